"""Colour-space split (paper B.2, CMC): view 1 = one channel of a colour space, view 2 = the other two.

As in CMC, the RGB image is first randomly crop-resized and flipped (one box per sample, shared by
both views, so the views differ only in which channels they keep), then converted and normalised
per channel to [-1, 1] (see colorspaces.py). Channel 0 is always the single channel: L vs ab,
Y vs CbCr, R vs GB, H vs SV, X vs YZ, H vs ED.

`crop-scale` is RandomResizedCrop's lower area bound. Its default 0.2 is `--crop_low` in CMC's
public training script (train_CMC.py); the paper does not restate it for STL-10.
The per-space shortcuts (`lab-split`, ...) are this family with `space` fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family
from infomin_cli.views.colorspaces import CHANNEL_NAMES, SPACES, to_normalised
from infomin_cli.views.crop import random_resized_crop, resize

CMC_CROP_SCALE = 0.2

CROP_SCALE = Knob(
    name="crop-scale",
    kind="float",
    default=CMC_CROP_SCALE,
    section="B.2",
    help="RandomResizedCrop lower area bound shared by both views (CMC recipe)",
    low=0.05,
    high=1.0,
)
SPACE = Knob(
    name="space",
    kind="choice",
    default="lab",
    section="B.2",
    help="colour space; view 1 = its first channel, view 2 = the other two",
    choices=SPACES,
)


@dataclass
class ColorSpaceSplit:
    space: str
    image_size: int
    crop_scale: float = CMC_CROP_SCALE
    channels: tuple[int, int] = (1, 2)
    shared_encoder: bool = False

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = random_resized_crop(
            images.float() / 255.0, self.image_size, generator, scale=(self.crop_scale, 1.0)
        )
        return self._split(to_normalised(rgb.clamp(0.0, 1.0), self.space))

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        rgb = resize(images.float() / 255.0, self.image_size)
        return list(self._split(to_normalised(rgb.clamp(0.0, 1.0), self.space)))

    @staticmethod
    def _split(converted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return converted[:, :1].contiguous(), converted[:, 1:].contiguous()


def build(values: dict[str, KnobValue], image_size: int) -> ColorSpaceSplit:
    return ColorSpaceSplit(
        space=str(values["space"]), image_size=image_size, crop_scale=float(values["crop-scale"])
    )


register_family(
    ViewFamily(
        name="colorspace-split",
        summary="one channel of a colour space vs the other two, after a shared random crop + flip (CMC)",
        section="B.2",
        knobs=(SPACE, CROP_SCALE),
        build=build,
    )
)

for _space in SPACES:
    _names = CHANNEL_NAMES[_space]
    register_family(
        ViewFamily(
            name=f"{_space}-split",
            summary=f"{_names[0]} vs {''.join(_names[1:])} (colorspace-split with space={_space})",
            section="B.2",
            knobs=(CROP_SCALE,),
            build=build,
            aliases_of="colorspace-split",
            fixed={"space": _space},
        )
    )
