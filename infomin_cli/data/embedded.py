"""The embedded default dataset: digit glyphs in many fonts over crops of real photographs.

Why this design: contrastive views learn whatever distinguishes one image from another. With small
digits on busy photos, a trial encoded the background (~96 % probe) and not the digit (~11 %). Here
the glyph is large, drawn in 20 fonts (the ones matplotlib ships), at random size, slant, colour
and offset, so its *shape* is the strongest factor shared by any two views; the photo background is
a controllable nuisance (`background` label, and its contrast is a generation parameter).

Everything comes from files installed packages ship (matplotlib's fonts, scikit-image's and
scikit-learn's sample photos), is generated deterministically from a seed, and is cached as one
.npz under ~/.cache/infomin (or $INFOMIN_CACHE).

Labels: `class` (digit 0-9), `background` (which photo), `position` (quadrant of the glyph's
offset from the centre: 0 up-left, 1 up-right, 2 down-left, 3 down-right), `font` (font file index).

Masks (for segmentation probes, paper B.2's dense task on our data): per pixel, digit + 1 where the
glyph's coverage is at least one half, 0 on the background. They come from the same render as the
image's glyph and draw no random numbers, so the images are the ones version 1 generated, byte for
byte (tested against a hash of the version-1 images).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from infomin_cli.data.base import Dataset, ImageSet, register_dataset
from infomin_cli.data.cache import cache_dir, cached, shape_check

FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf",
)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "china", "flower")
CLASS_NAMES = [str(d) for d in range(10)]
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MASK_NAMES = ["background"] + [f"digit {d}" for d in range(10)]  # mask value v: background (0), digit v - 1
LABELS = ("class", "background", "position", "font")
MASK_COVERAGE = 0.5  # a pixel is glyph when the glyph covers at least this fraction of it


@dataclass(frozen=True)
class EmbeddedSpec:
    """Every parameter of the generator; its hash names the cache file."""

    size: int = 32
    n_train: int = 8000
    n_test: int = 2000
    seed: int = 0
    background_contrast: float = 0.6  # 0 = flat mean colour, 1 = the photo's own contrast
    background_saturation: float = 0.2  # 0 = photo detail in luminance only, 1 = in full colour
    glyph_scale: tuple[float, float] = (0.55, 0.85)  # font size as a fraction of the image side
    max_offset: float = 0.15  # glyph centre offset as a fraction of the side
    max_rotation: float = 15.0  # degrees
    version: int = 2  # 2: per-pixel glyph masks added (images unchanged); a new version is a new cache file

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _photos() -> list[np.ndarray]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    sklearn_images = dict(zip(("china", "flower"), load_sample_images().images, strict=True))
    photos = []
    for name in PHOTOS:
        image = sklearn_images[name] if name in sklearn_images else getattr(skimage.data, name)()
        photos.append(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
    return photos


def _glyph_mask(font_path: str, digit: int, px: int, angle: float, dx: float, dy: float, size: int) -> np.ndarray:
    """Render one anti-aliased glyph at 4x resolution, rotate, and shrink to size x size."""
    scale = 4
    canvas = Image.new("L", (size * scale, size * scale), 0)
    font = ImageFont.truetype(font_path, px * scale)
    centre = (size * scale / 2 + dx * scale, size * scale / 2 + dy * scale)
    ImageDraw.Draw(canvas).text(centre, str(digit), fill=255, font=font, anchor="mm")
    canvas = canvas.rotate(angle, resample=Image.BILINEAR, center=centre)
    return np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255.0


def _background(photo: np.ndarray, rng: np.random.Generator, size: int, contrast: float, saturation: float) -> np.ndarray:
    """A random square crop of a photo. Its detail is kept mostly in luminance: a colour-space split
    (L vs ab) then shares the glyph but little of the photo, so the nuisance is *present* (the
    `background` label is probe-able) without being what two channel views have in common."""
    h, w = photo.shape[:2]
    side = int(rng.integers(size * 2, min(h, w) // 2 + 1))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size), Image.BILINEAR)
    crop = np.asarray(crop, dtype=np.float32)
    mean = crop.mean(axis=(0, 1), keepdims=True)
    detail = crop - mean
    luma = (detail @ LUMA)[..., None]
    return mean + contrast * (luma + saturation * (detail - luma))


def _glyph_colour(background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A saturated colour whose luminance is far from the background's, so the glyph shows in
    luminance *and* chroma channels (both halves of a colour-space split see its shape)."""
    bg_luma = float((background @ LUMA).mean())
    for _ in range(20):
        colour = rng.uniform(0, 255, size=3).astype(np.float32)
        if abs(float(colour @ LUMA) - bg_luma) > 70 and np.ptp(colour) > 60:
            return colour
    return np.full(3, 255.0 if bg_luma < 128 else 0.0, dtype=np.float32)


def generate(spec: EmbeddedSpec) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(spec.seed)
    photos = _photos()
    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    n = spec.n_train + spec.n_test
    images = np.empty((n, spec.size, spec.size, 3), dtype=np.uint8)
    labels = {k: np.empty(n, dtype=np.int64) for k in LABELS}
    masks = np.empty((n, spec.size, spec.size), dtype=np.uint8)
    for i in range(n):
        digit = i % 10  # balanced classes; order is shuffled below
        font = int(rng.integers(len(FONTS)))
        photo = int(rng.integers(len(photos)))
        px = int(round(spec.size * rng.uniform(*spec.glyph_scale)))
        dx, dy = rng.uniform(-spec.max_offset, spec.max_offset, size=2) * spec.size
        angle = float(rng.uniform(-spec.max_rotation, spec.max_rotation))
        mask = _glyph_mask(str(font_dir / FONTS[font]), digit, px, angle, dx, dy, spec.size)[..., None]
        background = _background(photos[photo], rng, spec.size, spec.background_contrast, spec.background_saturation)
        colour = _glyph_colour(background, rng)
        images[i] = np.clip(background * (1 - mask) + colour * mask, 0, 255).round().astype(np.uint8)
        masks[i] = np.where(mask[..., 0] >= MASK_COVERAGE, digit + 1, 0)  # the same render; no random draws
        labels["class"][i] = digit
        labels["background"][i] = photo
        labels["position"][i] = int(dx > 0) + 2 * int(dy > 0)
        labels["font"][i] = font
    order = rng.permutation(n)
    out = {"images": images[order].transpose(0, 3, 1, 2).copy(), "masks": masks[order]}
    out.update({k: v[order] for k, v in labels.items()})
    return out


def load_arrays(spec: EmbeddedSpec = EmbeddedSpec()) -> dict[str, np.ndarray]:
    """Generate once, then read the cached .npz (data/cache.py: a damaged file is generated again)."""
    n, size = spec.n_train + spec.n_test, spec.size
    expected = {"images": ((n, 3, size, size), "uint8"), "masks": ((n, size, size), "uint8"),
                **{label: ((n,), "int64") for label in LABELS}}
    return cached(f"embedded-{spec.key()}.npz", lambda: generate(spec), expected, shape_check(expected))


def _to_imageset(arrays: dict[str, np.ndarray], sl: slice) -> ImageSet:
    labels = {k: torch.from_numpy(v[sl]) for k, v in arrays.items() if k not in ("images", "masks")}
    return ImageSet(torch.from_numpy(arrays["images"][sl]), labels, masks=torch.from_numpy(arrays["masks"][sl]))


@register_dataset("embedded", needs="nothing: generated from installed packages, cached",
                  labels=("class", "background", "position", "font"), masks=True, mask_label="glyph",
                  default_for="images")
def load_embedded(root: Path | None = None, image_size: int | None = None) -> Dataset:
    spec = EmbeddedSpec()
    arrays = load_arrays(spec)
    train = _to_imageset(arrays, slice(0, spec.n_train))
    test = _to_imageset(arrays, slice(spec.n_train, None))
    return Dataset(
        name="embedded",
        pretrain=train,
        train=train,
        test=test,
        label_names={
            "class": CLASS_NAMES,
            "background": list(PHOTOS),
            "position": ["up-left", "up-right", "down-left", "down-right"],
            "font": list(FONTS),
        },
        mask_names=list(MASK_NAMES),
        source=f"generated (spec {spec.key()}), cached in {cache_dir()}",
    )
