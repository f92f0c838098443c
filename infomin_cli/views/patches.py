"""Spatial patches at distance d (paper B.1): two patches whose centres are exactly d pixels apart.

Sampling without the boundary bias the paper warns about: a placement is (centre c1, direction
theta), with c2 = c1 + d (cos theta, sin theta), and the pair is drawn *uniformly among all
placements where both patches lie inside the image* — by rejection: c1 uniform over every position
where patch 1 fits, theta uniform on [0, 2 pi), kept only if patch 2 fits too. (The biased
alternative — draw c1, then clamp or re-aim c2 — piles patches up against the borders.) Centres
are continuous, so the distance is exact in every direction, not only along the pixel axes; each
patch is read at native resolution with one bilinear grid_sample for the batch.

Patches are image_size x image_size source pixels (no resizing), so d is measured in source pixels.
Both patches come from the same distribution: one shared encoder. The default d = 128 is the
issue's example; the supplementary does not name a sweet spot. Large d needs large images: the
`div2k` / `highres` datasets (data_kind "highres") store 512 x 512 crops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from infomin_cli.errors import InfominError
from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family
from infomin_cli.views.crop import crop_resize, resize
from infomin_cli.views.infomin_aug import normalise_rgb

CANDIDATES = 64  # rejection-sampling draws per sample and round

DISTANCE = Knob(
    name="distance",
    kind="int",
    default=128,
    section="B.1",
    help="distance in source pixels between the two patch centres",
    low=0,
    high=2048,
)


def max_distance(height: int, width: int, patch: int) -> float:
    """The largest centre distance at which two patch x patch patches fit (along the diagonal)."""
    return math.hypot(height - patch, width - patch)


def sample_patch_pairs(
    batch: int,
    height: int,
    width: int,
    patch: int,
    distance: float,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2) top-left corners (y, x) of patch 1 and patch 2, uniform over fitting placements."""
    span_y, span_x = height - patch, width - patch
    if span_y < 0 or span_x < 0 or distance > max_distance(height, width, patch):
        largest = (
            f"at most {max_distance(height, width, patch):.0f}" if min(span_x, span_y) >= 0 else "none fits"
        )
        raise InfominError(
            f"patches: distance {distance:g} with {patch}px patches does not fit in {height}x{width} images "
            f"({largest}); use a smaller --knob distance or a high-resolution dataset (div2k, highres)"
        )
    first = torch.zeros(batch, 2, dtype=torch.float64, device=device)
    second = torch.zeros_like(first)
    todo = torch.ones(batch, dtype=torch.bool, device=device)
    limit = torch.tensor([span_y, span_x], dtype=torch.float64, device=device)
    while bool(todo.any()):
        c1 = torch.rand(batch, CANDIDATES, 2, generator=generator, device=device, dtype=torch.float64) * limit
        theta = (
            2
            * math.pi
            * torch.rand(batch, CANDIDATES, generator=generator, device=device, dtype=torch.float64)
        )
        c2 = c1 + distance * torch.stack([torch.sin(theta), torch.cos(theta)], dim=-1)
        fits = ((c2 >= 0) & (c2 <= limit)).all(dim=-1)
        pick = fits.to(torch.int8).argmax(dim=1)
        found = fits.any(dim=1) & todo
        rows = torch.arange(batch, device=device)
        first = torch.where(found[:, None], c1[rows, pick], first)
        second = torch.where(found[:, None], c2[rows, pick], second)
        todo = todo & ~found
    return first, second


def _boxes(corners: torch.Tensor, patch: int) -> torch.Tensor:
    size = torch.full_like(corners[:, :1], float(patch))
    return torch.cat([corners, size, size], dim=1)


@dataclass
class PatchPair:
    distance: int
    image_size: int
    channels: tuple[int, int] = (3, 3)
    shared_encoder: bool = True

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = images.shape
        first, second = sample_patch_pairs(
            batch, height, width, self.image_size, self.distance, generator, images.device
        )
        x = images.float() / 255.0
        v1 = crop_resize(x, _boxes(first, self.image_size), self.image_size)
        v2 = crop_resize(x, _boxes(second, self.image_size), self.image_size)
        return normalise_rgb(v1), normalise_rgb(v2)

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        return [normalise_rgb(resize(images.float() / 255.0, self.image_size))]


def build(values: dict[str, KnobValue], image_size: int) -> PatchPair:
    return PatchPair(distance=int(values["distance"]), image_size=image_size)


register_family(
    ViewFamily(
        name="patches",
        summary="two patches of a high-resolution image whose centres are exactly d pixels apart",
        section="B.1",
        knobs=(DISTANCE,),
        build=build,
        data_kind="highres",
        image_size=64,  # the tiny AlexNet's input, as in B.1; patches are this many source pixels
        pairs_per_patch_area=0.25,  # a 512 px crop holds 64 patch areas of 64 px: an epoch draws 16 pairs
    )
)
