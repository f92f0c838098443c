"""Frequency split (paper B.3): v1 = GaussianBlur(x, sigma) (low frequencies), v2 = x - v1 (high).

Both views are 3-channel but come from different distributions, so each gets its own encoder.
As in the colour splits (the paper: "the setup is almost the same"), the image is first randomly
crop-resized and flipped once, shared by both views.

Scaling: with x in [0, 1], v1 = 2*blur(x) - 1 and v2 = 2*(x - blur(x)), so v1 lies in [-1, 1]
like every other view, and v1 + v2 = 2x - 1 is exactly the normalised image (`reconstruct`).

`sigma` (pixels at the output size, kernel = 2*ceil(3 sigma)+1 taps, reflect padding): the paper
finds I_NCE peaks at sigma = 0.7 on STL-10 while linear accuracy peaks at sigma = 1.0; the default
is 1.0 because a user who pretrains with defaults wants the better representation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family
from infomin_cli.views.blur import gaussian_blur
from infomin_cli.views.colorspace_split import CMC_CROP_SCALE, CROP_SCALE
from infomin_cli.views.crop import random_resized_crop, resize

SIGMA = Knob(
    name="sigma",
    kind="float",
    default=1.0,
    section="B.3",
    help="Gaussian blur sigma in pixels (I_NCE peaks at 0.7, accuracy at 1.0)",
    low=0.1,
    high=8.0,
    log=True,
)


@dataclass
class FreqSplit:
    sigma: float
    image_size: int
    crop_scale: float = CMC_CROP_SCALE
    channels: tuple[int, int] = (3, 3)
    shared_encoder: bool = False

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = random_resized_crop(
            images.float() / 255.0, self.image_size, generator, scale=(self.crop_scale, 1.0)
        )
        return self.split(x)

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        return list(self.split(resize(images.float() / 255.0, self.image_size)))

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float [0, 1] batch -> (low, high) views; low + high == 2x - 1."""
        low = gaussian_blur(x, self.sigma)
        return 2.0 * low - 1.0, 2.0 * (x - low)

    @staticmethod
    def reconstruct(v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        """The [0, 1] image the two views came from."""
        return (v1 + v2 + 1.0) / 2.0


def build(values: dict[str, KnobValue], image_size: int) -> FreqSplit:
    return FreqSplit(
        sigma=float(values["sigma"]), image_size=image_size, crop_scale=float(values["crop-scale"])
    )


register_family(
    ViewFamily(
        name="freq-split",
        summary="low frequencies (Gaussian blur) vs the residual high frequencies, two encoders",
        section="B.3",
        knobs=(SIGMA, CROP_SCALE),
        build=build,
    )
)
