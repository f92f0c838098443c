"""InfoMin augmentation (paper C.1-C.3): two independently augmented views of each image, one encoder.

Per view, in this order (PyContrast's InfoMin order, flip folded into the crop's grid_sample):
RandomResizedCrop(scale=(crop-scale, 1)) + horizontal flip -> colour jitter of strength x with
p = 0.8 (per-sample random order of the four operations) -> grayscale p = 0.2 -> Gaussian blur,
sigma ~ U[0.1, 2] px, p = 0.5 -> RandAugment n=2, m=10, std 0.5 -> ImageNet mean/std normalisation.
At the top rung the views are those of `infomin`, and `jigsaw_tiles` also cuts nine tiles per
image for the JigSaw branch of the objective (PIRL as PyContrast combines it, objectives/jigsaw.py).

Both views of the batch are augmented as one batch of 2B, so every operation runs once per step.

`level` is the augmentation ladder of C.1 / Fig. 4(b), each rung adding one step:
  crop -> crop+jitter (jitter + grayscale, SimCLR's "colour distortion") -> crop+jitter+blur
  -> infomin (+RandAugment: the InfoMin Aug of C.3 without the JigSaw branch; the default)
  -> infomin+jigsaw.
`crop-scale` (C.2): reverse-U sweet spot c = 0.2, not the supervised 0.08; default 0.2.
`jitter` (C.2): strength x of (0.8x, 0.8x, 0.8x, 0.2x); sweet spot x = 1.0 (SimCLR's); default 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family
from infomin_cli.views.blur import gaussian_blur
from infomin_cli.views.crop import OriginalCrops, random_resized_crop, resize
from infomin_cli.views.jigsaw import JIGSAW_SCALE, cut_tiles, tile_geometry
from infomin_cli.views.jitter import color_jitter, random_grayscale, sample_jitter
from infomin_cli.views.randaugment import rand_augment

LEVELS = ("crop", "crop+jitter", "crop+jitter+blur", "infomin", "infomin+jigsaw")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
JITTER_P, GRAYSCALE_P, BLUR_P = 0.8, 0.2, 0.5
BLUR_SIGMA = (0.1, 2.0)
BLUR_KERNEL = 13  # 2*ceil(3*2)+1: covers +-3 sigma at the largest sigma

KNOBS = (
    Knob(
        name="crop-scale",
        kind="float",
        default=0.2,
        section="C.2",
        help="RandomResizedCrop lower area bound c (sweet spot 0.2; supervised default 0.08)",
        low=0.05,
        high=1.0,
    ),
    Knob(
        name="jitter",
        kind="float",
        default=1.0,
        section="C.2",
        help="colour-jitter strength x: brightness/contrast/saturation 0.8x, hue 0.2x",
        low=0.05,
        high=2.5,
        log=True,
    ),
    Knob(
        name="level",
        kind="choice",
        default="infomin",
        section="C.1",
        help="augmentation ladder rung (each adds one step)",
        choices=LEVELS,
    ),
)


def normalise_rgb(x: torch.Tensor) -> torch.Tensor:
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def denormalise_rgb(x: torch.Tensor) -> torch.Tensor:
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return x * std + mean


def random_blur(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Blur a random half of the samples, each with its own sigma ~ U[0.1, 2] (the blurred rows are
    written back in x's dtype: an index-put refuses any other)."""
    chosen = torch.nonzero(torch.rand(x.shape[0], generator=generator, device=x.device) < BLUR_P).squeeze(1)
    sigma = BLUR_SIGMA[0] + (BLUR_SIGMA[1] - BLUR_SIGMA[0]) * torch.rand(
        x.shape[0], generator=generator, device=x.device
    )
    if chosen.numel():
        x = x.clone()
        x[chosen] = gaussian_blur(x[chosen], sigma[chosen], size=BLUR_KERNEL).to(x.dtype)
    return x


@dataclass
class InfoMinAug:
    image_size: int
    crop_scale: float = 0.2
    jitter: float = 1.0
    level: str = "infomin"
    channels: tuple[int, int] = (3, 3)
    shared_encoder: bool = True

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 batch -> one augmented float [0, 1] view per image (before normalisation)."""
        x = random_resized_crop(
            images.float() / 255.0, self.image_size, generator, scale=(self.crop_scale, 1.0)
        )
        return self.photometric(x.clamp(0.0, 1.0), generator)

    def photometric(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Every step of the rung after the crop, each sample with its own draws."""
        rung = LEVELS.index(self.level)
        if rung >= LEVELS.index("crop+jitter"):
            x = color_jitter(x, sample_jitter(x.shape[0], self.jitter, JITTER_P, generator, x.device))
            x = random_grayscale(x, GRAYSCALE_P, generator)
        if rung >= LEVELS.index("crop+jitter+blur"):
            x = random_blur(x, generator)
        if rung >= LEVELS.index("infomin"):
            x = rand_augment(x, generator)
        return x

    @property
    def stream_crops(self) -> OriginalCrops:
        """The crops a streaming source cuts from each original photo: view 1, view 2 (and the
        JigSaw crop); it then hands over uint8 (B, K, C, S, S) and the views skip their own crop."""
        tile, cell = tile_geometry(self.image_size)
        sizes, scales = [self.image_size] * 2, [(self.crop_scale, 1.0)] * 2
        if self.has_jigsaw:
            sizes, scales = [*sizes, 3 * cell], [*scales, JIGSAW_SCALE]
        return OriginalCrops(tuple(sizes), tuple(scales))

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        batch = images.shape[0]
        if images.ndim == 5:  # cropped from the original photos by a streaming source (stream_crops)
            s = self.image_size
            crops = torch.cat([images[:, 0, :, :s, :s], images[:, 1, :, :s, :s]]).float() / 255.0
            both = self.photometric(crops, generator)
            return normalise_rgb(both[:batch]), normalise_rgb(both[batch:])
        both = self.augment(torch.cat([images, images]), generator)
        v1, v2 = both[:batch], both[batch:]
        return normalise_rgb(v1), normalise_rgb(v2)

    @property
    def has_jigsaw(self) -> bool:
        return self.level == "infomin+jigsaw"

    def jigsaw_tiles(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 (B,C,H,W) -> nine augmented, normalised tiles per image, (B, 9, C, t, t)."""
        tile, cell = tile_geometry(self.image_size)
        if images.ndim == 5:  # the streaming source cut the JigSaw crop from the original photo
            x = images[:, 2, :, : 3 * cell, : 3 * cell].float() / 255.0
        else:
            x = random_resized_crop(images.float() / 255.0, 3 * cell, generator, scale=JIGSAW_SCALE).clamp(0.0, 1.0)
        tiles = cut_tiles(x, tile, generator)
        flat = self.photometric(tiles.flatten(0, 1).contiguous(), generator)
        return normalise_rgb(flat).view(tiles.shape)

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        return [normalise_rgb(resize(images.float() / 255.0, self.image_size))]


def build(values: dict[str, KnobValue], image_size: int) -> InfoMinAug:
    return InfoMinAug(
        image_size=image_size,
        crop_scale=float(values["crop-scale"]),
        jitter=float(values["jitter"]),
        level=str(values["level"]),
    )


register_family(
    ViewFamily(
        name="infomin-aug",
        summary="InfoMin Aug: crop+flip, colour jitter, grayscale, blur, RandAugment (+JigSaw); one encoder",
        section="C.1-C.3",
        knobs=KNOBS,
        build=build,
    )
)
