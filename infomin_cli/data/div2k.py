"""High-resolution photos for the patch-distance views (paper B.1): `div2k` (a folder) and `highres`.

Why crops: the data contract is one uint8 tensor, so images of different sizes cannot be stored
whole. Each photo contributes fixed-size square crops (CROP = 512 px, at seeded random positions,
about one per 512x512 of area, at most CROPS_PER_IMAGE); 512 px leaves room for two 64 px patches
up to ~630 px apart. Labels are just `image` (which photo a crop came from) — the paper evaluates the
patch encoders on STL-10 / CIFAR-10, not on DIV2K.

`div2k`: --data-root holding DIV2K_train_HR/ (pretrain + probe train) and optionally
DIV2K_valid_HR/ (probe test), or one flat folder of PNG/JPEG images (crops split 80/20 by photo).
`highres`: the photos shipped inside scikit-image and scikit-learn, no files needed. Several are
smaller than 512 px on a side; those are upscaled (bilinear, antialiased) so the short side is 512.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from infomin_cli.data.base import Dataset, ImageSet, register_dataset, require_root, rgb_uint8
from infomin_cli.data.stream import Fit, StreamSource, stream_decision
from infomin_cli.errors import InfominError

CROP = 512
CROPS_PER_IMAGE = 4
SUFFIXES = {".png", ".jpg", ".jpeg"}
EXPECTED = "DIV2K_train_HR/ (and optionally DIV2K_valid_HR/) or PNG/JPEG images of at least 512x512"
SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
)


def crops_of(image: torch.Tensor, generator: torch.Generator, size: int = CROP) -> torch.Tensor:
    """uint8 (3,H,W) -> (n, 3, size, size) crops at random positions; small photos are upscaled first."""
    _, height, width = image.shape
    if min(height, width) < size:
        scale = size / min(height, width)
        new = (max(size, round(height * scale)), max(size, round(width * scale)))
        image = F.interpolate(image[None].float(), size=new, mode="bilinear", antialias=True)[0]
        image = image.round().clamp(0, 255).to(torch.uint8)
        _, height, width = image.shape
    count = max(1, min(CROPS_PER_IMAGE, round(height * width / size**2)))
    tops = torch.randint(0, height - size + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, width - size + 1, (count,), generator=generator).tolist()
    return torch.stack([image[:, t : t + size, s : s + size] for t, s in zip(tops, lefts, strict=True)])


def _image_set(photos: list[torch.Tensor], first_label: int, generator: torch.Generator) -> ImageSet:
    crops, labels = [], []
    for index, photo in enumerate(photos):
        these = crops_of(photo, generator)
        crops.append(these)
        labels.append(torch.full((len(these),), first_label + index, dtype=torch.int64))
    return ImageSet(torch.cat(crops), {"image": torch.cat(labels)})


def _read(path: Path) -> torch.Tensor:
    """Decoding is PIL's (once, at load time; the views never touch PIL)."""
    try:
        with Image.open(path) as image:
            array = rgb_uint8(path, image)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InfominError(
            f"dataset 'div2k': cannot read image {path} ({exc}); expected {EXPECTED}"
        ) from None
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _dataset(name: str, train: list[torch.Tensor], test: list[torch.Tensor], source: str) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    train_set = _image_set(train, 0, generator)
    test_set = _image_set(test, len(train), generator)
    return Dataset(name=name, pretrain=train_set, train=train_set, test=test_set, source=source)


def load_div2k(root: Path | None, image_size: int | None = None, stream: bool | None = None, strict: bool = False,
               workers: int | None = None) -> Dataset:
    """DIV2K-style folder -> 512 px crops. `image_size` is ignored: the patch views read native pixels.
    Streamed, each photo is one item: a 512 px square at native resolution, at a new random
    position every time training reads it (the centre one for probes)."""
    root = require_root("div2k", root, EXPECTED)
    train_dir, valid_dir = root / "DIV2K_train_HR", root / "DIV2K_valid_HR"
    if train_dir.is_dir():
        train_files = _image_files(train_dir)
        test_files = _image_files(valid_dir) if valid_dir.is_dir() else []
    else:
        files = _image_files(root)
        cut = max(1, int(len(files) * 0.8)) if len(files) > 1 else len(files)
        train_files, test_files = files[:cut], files[cut:]
    if not train_files:
        raise InfominError(
            f"dataset 'div2k': no PNG/JPEG images in {train_dir if train_dir.is_dir() else root}; expected {EXPECTED}"
        )
    if stream_decision("div2k", (len(train_files) + len(test_files)) * CROPS_PER_IMAGE, CROP, stream):
        def source(files: list[Path], first: int) -> StreamSource:
            labels = {"image": torch.arange(first, first + len(files), dtype=torch.int64)}
            return StreamSource(files, labels, Fit(CROP, native=True), strict, workers)

        train_source = source(train_files, 0)
        test_source = source(test_files, len(train_files)) if test_files else source(train_files[-1:], len(train_files) - 1)
        return Dataset("div2k", train_source, train_source, test_source, source=str(root))
    train = [_read(p) for p in train_files]
    test = [_read(p) for p in test_files] or train[-1:]
    return _dataset("div2k", train, test, source=str(root))


def embedded_photos() -> list[torch.Tensor]:
    """The high-resolution photos that scikit-image and scikit-learn install with themselves."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    arrays = [getattr(data, name)() for name in SKIMAGE_PHOTOS] + list(load_sample_images().images)
    return [torch.from_numpy(a[..., :3].copy()).permute(2, 0, 1).contiguous() for a in arrays]


def load_highres(root: Path | None = None, image_size: int | None = None) -> Dataset:
    """The embedded photos: every photo's crops for pretraining; the last two photos are the test set."""
    photos = embedded_photos()
    return _dataset("highres", photos[:-2], photos[-2:], source="scikit-image + scikit-learn sample photos")


register_dataset("div2k", needs="--data-root with DIV2K_train_HR/ (+ DIV2K_valid_HR/) or a folder of images",
                 labels=(), storage="stream")(load_div2k)
register_dataset("highres", needs="nothing: scikit-image / scikit-learn sample photos", labels=(),
                 default_for="highres")(load_highres)
