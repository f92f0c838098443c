"""Class-per-folder image datasets (ImageNet, TinyImageNet, any ImageFolder), decoded into memory.

Images are decoded once (PIL, in threads), resized so the short side is `store` px and centre-
cropped square, and held as one uint8 tensor like every other dataset, so views run batched on the
device. That bounds the size: before decoding anything, the loader checks the tensor would fit in
half the machine's memory and otherwise says so in one line (use --limit-per-class or a smaller
--image-size). Streaming full ImageNet at 224 px is not built yet (docs/ARCHITECTURE.md).

Layouts: `root/train/<class>/**/*.{jpg,jpeg,png}` and `root/val/<class>/**` (ImageNet with its val
set sorted into class folders), or TinyImageNet's `val/images/` + `val/val_annotations.txt`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from infomin_cli.data.base import DATASETS, Dataset, ImageSet, require_root, rgb_uint8
from infomin_cli.errors import InfominError

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
EXPECTED = "train/<class>/*.jpg and val/<class>/*.jpg (or TinyImageNet's val/images + val_annotations.txt)"


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)


def _train_listing(root: Path) -> tuple[list[Path], list[int], list[str]]:
    train = root / "train"
    classes = sorted(d.name for d in train.iterdir() if d.is_dir()) if train.is_dir() else []
    if not classes:
        raise InfominError(f"no class folders in {train}; expected {EXPECTED}")
    paths, labels = [], []
    for index, name in enumerate(classes):
        found = _images_under(train / name)
        paths += found
        labels += [index] * len(found)
    return paths, labels, classes


def _val_listing(root: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    val = root / "val"
    annotations = val / "val_annotations.txt"
    index = {name: i for i, name in enumerate(classes)}
    if annotations.is_file():  # TinyImageNet
        paths, labels = [], []
        for line in annotations.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] in index:
                paths.append(val / "images" / parts[0])
                labels.append(index[parts[1]])
        return paths, labels
    paths, labels = [], []
    for name in classes:
        found = _images_under(val / name) if (val / name).is_dir() else []
        paths += found
        labels += [index[name]] * len(found)
    if not paths:
        raise InfominError(f"no validation images in {val}; expected {EXPECTED}")
    return paths, labels


def _decode(path: Path, store: int) -> np.ndarray:
    try:
        with Image.open(path) as opened:
            image = Image.fromarray(rgb_uint8(path, opened))
            scale = store / min(image.size)
            w, h = max(store, round(image.width * scale)), max(store, round(image.height * scale))
            image = image.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
            left, top = (w - store) // 2, (h - store) // 2
            return np.array(image.crop((left, top, left + store, top + store)), dtype=np.uint8)
    except OSError as exc:
        raise InfominError(f"cannot decode {path} ({exc}); remove it or fix the file") from None


def _load(paths: list[Path], labels: list[int], store: int) -> ImageSet:
    out = torch.empty((len(paths), 3, store, store), dtype=torch.uint8)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for i, array in enumerate(pool.map(lambda p: _decode(p, store), paths)):
            out[i] = torch.from_numpy(array).permute(2, 0, 1)
    return ImageSet(out, {"class": torch.tensor(labels, dtype=torch.int64)})


def _check_memory(n: int, store: int, name: str) -> None:
    need = n * 3 * store * store
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return
    if need > total // 2:
        raise InfominError(
            f"{name}: {n} images at {store} px need {need / 2**30:.0f} GiB in memory, over half of this machine's "
            f"{total / 2**30:.0f} GiB; lower --image-size or use a subset folder (streaming is not built yet)"
        )


def _interleave(paths: list[Path], labels: list[int]) -> tuple[list[Path], list[int]]:
    """Round-robin over classes so that any prefix (`--limit`) is class-balanced."""
    counts: dict[int, int] = {}
    rank = []
    for label in labels:
        rank.append(counts.get(label, 0))
        counts[label] = rank[-1] + 1
    order = sorted(range(len(labels)), key=lambda i: (rank[i], labels[i]))
    return [paths[i] for i in order], [labels[i] for i in order]


def load_folder(name: str, root: Path | None, store: int) -> Dataset:
    root = require_root(name, root, EXPECTED)
    train_paths, train_labels, classes = _train_listing(root)
    val_paths, val_labels = _val_listing(root, classes)
    _check_memory(len(train_paths) + len(val_paths), store, name)
    train_paths, train_labels = _interleave(train_paths, train_labels)
    train = _load(train_paths, train_labels, store)
    test = _load(val_paths, val_labels, store)
    return Dataset(name, train, train, test, {"class": classes}, source=str(root))


def _store_size(image_size: int | None, default: int) -> int:
    """Stored a little larger than the encoder input, as ImageNet's 256 -> 224 crops are."""
    return round((default if image_size is None else image_size) * 256 / 224)


DATASETS.add("imagefolder", lambda root, image_size=None: load_folder("imagefolder", root, _store_size(image_size, 64)))
DATASETS.add("imagenet", lambda root, image_size=None: load_folder("imagenet", root, _store_size(image_size, 224)))
DATASETS.add("tinyimagenet", lambda root, image_size=None: load_folder("tinyimagenet", root, 64 if image_size is None else image_size))
