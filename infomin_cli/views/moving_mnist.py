"""Colorful Moving MNIST's views (the paper's B.4): v1 = frames 1..k, v2 = one image that shares a
chosen set of factors with frame t and draws the others afresh.

The item already holds the layers v2 is made of (data/moving_mnist.py): frame t's background and a
fresh one, and the digit drawn as (its digit | a fresh digit) x (at frame t's position | a fresh
position). Choosing v2 is then picking one background and one digit layer, so "v2 shares exactly
these factors" holds by construction, pixel for pixel, and costs one `maximum` on the device.
The fresh factors are independent draws, so an unshared factor agrees with frame t's only by
chance (1 in 10 for the digit class), as "drawn afresh" means.
"""

from __future__ import annotations

import torch

from infomin_cli.data.moving_mnist import FACTORS, K_FRAMES, T_REF
from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family

# the paper's Table 1 rows; names list the factors in alphabetical order
SHARED_CHOICES = ("digit", "position", "background", "digit+position", "background+digit", "background+position", "all")

SHARED = Knob(
    name="shared",
    kind="choice",
    default="digit",
    section="B.4",
    help="which factors of frame t view 2 keeps (the rest are drawn afresh): digit, position, background, "
         "a '+'-joined pair, or all",
    choices=SHARED_CHOICES,
)


def factors_of(shared: str) -> frozenset[str]:
    return frozenset(FACTORS) if shared == "all" else frozenset(shared.split("+"))


def compose_v2(items: torch.Tensor, shared: frozenset[str]) -> torch.Tensor:
    """uint8 (B, 3, S, S): one background layer and one digit layer of the item, composited with max."""
    k = K_FRAMES
    background = items[:, k] if "background" in shared else items[:, k + 1]
    frame, channel = {(True, True): (k + 2, 0), (True, False): (k + 2, 1),
                      (False, True): (k + 2, 2), (False, False): (k + 3, 0)}[("digit" in shared, "position" in shared)]
    digit = items[:, frame, channel : channel + 1]
    return torch.maximum(background, digit)


def frame_t(items: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, S, S): frame t itself (every factor shared)."""
    return compose_v2(items, frozenset(FACTORS))


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float around 0 (no per-dataset statistics: the frames are synthetic)."""
    return (x.float() / 255.0 - 0.5) / 0.25


class SharedFactors:
    """v1 = frames 1..k (B, k, 3, S, S); v2 (B, 3, S, S). No augmentation: the paper uses none here."""

    channels = (3, 3)
    shared_encoder = True  # one ConvNet sees every image; the LSTM on top aggregates v1's frames

    def __init__(self, shared: str) -> None:
        self.shared = shared
        self.factors = factors_of(shared)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return to_float(images[:, :K_FRAMES]), to_float(compose_v2(images, self.factors))

    def sheet(self, images: torch.Tensor, scale: int = 3):
        """`infomin views show`: each sequence with frame t and this pair's v2."""
        return contact_sheet(images, scale, choices=(self.shared,))

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Frames 1..k then frame t, (B, k + 1, 3, S, S): the encoder's `sequence` layer reads the
        frames, its `image` layer frame t."""
        return [to_float(torch.cat([images[:, :K_FRAMES], frame_t(images)[:, None]], 1))]


def build(knobs: dict[str, KnobValue], image_size: int) -> SharedFactors:
    return SharedFactors(str(knobs["shared"]))


register_family(
    ViewFamily(
        name="moving-mnist",
        summary="frames 1-10 vs one image sharing the chosen factors (digit, position, background) with frame 20",
        section="B.4",
        knobs=(SHARED,),
        build=build,
        data_kind="sequences",
    )
)


def contact_sheet(items: torch.Tensor, scale: int = 3, choices: tuple[str, ...] = SHARED_CHOICES[:-1]):
    """A PIL image, one sequence per row: frames 1..k | frame t | v2 for each `shared` choice (all
    but `all`, which is frame t itself), with column titles: what v1 sees, and which v2 matches
    frame t in which factors."""
    from PIL import Image, ImageDraw

    gap, title = 4, 14
    columns = [(f"{f + 1}", items[:, f]) for f in range(K_FRAMES)] + [(f"t={T_REF}", frame_t(items))]
    columns += [(name, compose_v2(items, factors_of(name))) for name in choices]
    side = items.shape[-1]
    width = len(columns) * side + gap * 3
    rows = torch.full((3, len(items) * (side + 2), width), 255, dtype=torch.uint8)
    x = 0
    for c, (_, images) in enumerate(columns):
        x += gap if c in (K_FRAMES, K_FRAMES + 1) else 0  # frame t and the v2s stand apart from v1
        for r, image in enumerate(images):
            rows[:, r * (side + 2) + 1 : r * (side + 2) + 1 + side, x : x + side] = image
        columns[c] = (columns[c][0], x)
        x += side
    picture = Image.fromarray(rows.permute(1, 2, 0).numpy())
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    sheet = Image.new("RGB", (picture.width, picture.height + 3 * title), "white")
    sheet.paste(picture, (0, 3 * title))
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 1), f"v1 = frames 1-{K_FRAMES}", fill="black")
    draw.text(((K_FRAMES * side + gap) * scale, 1), "frame t", fill="black")
    header = "v2 sharing ... with frame t (the rest drawn afresh)" if len(choices) > 1 else "v2"
    draw.text(((K_FRAMES * side + side + 2 * gap) * scale, 1), header, fill="black")
    for c, (name, x) in enumerate(columns):
        draw.text((x * scale + 2, title + (title if c > K_FRAMES and c % 2 else 0)), name.replace("background", "bg"),
                  fill="black")
    return sheet
