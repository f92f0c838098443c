"""STL-10 from the official binary files (stl10_binary/*.bin); never downloaded.

The .bin files hold uint8 images as (N, 3, 96, 96) in column-major pixel order, so the last two
axes are swapped on read; labels are uint8 1..10. Pretraining uses train + unlabeled, as CMC does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from infomin_cli.data.base import Dataset, ImageSet, checked_labels, register_dataset, require_root
from infomin_cli.errors import InfominError

SIDE = 96
PIXELS = 3 * SIDE * SIDE
EXPECTED = "stl10_binary/{train,test}_{X,y}.bin (and optionally unlabeled_X.bin), the official STL-10 binary files"
CLASS_NAMES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _folder(root: Path | None) -> Path:
    root = require_root("stl10", root, EXPECTED)
    folder = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    if not (folder / "train_X.bin").is_file():
        raise InfominError(f"no train_X.bin in {folder}; dataset 'stl10' expects {EXPECTED}")
    return folder


def read_images(path: Path) -> torch.Tensor:
    if not path.is_file():
        raise InfominError(f"missing {path}; dataset 'stl10' expects {EXPECTED}")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % PIXELS:
        raise InfominError(f"{path} has {raw.size} bytes, not a multiple of 3*96*96; is it an STL-10 *_X.bin file?")
    return torch.from_numpy(raw.reshape(-1, 3, SIDE, SIDE)).transpose(2, 3)


def read_labels(path: Path, n: int) -> torch.Tensor:
    if not path.is_file():
        raise InfominError(f"missing {path}; dataset 'stl10' expects {EXPECTED}")
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) != n:
        raise InfominError(f"{path} holds {len(raw)} labels for {n} images; the file is damaged or from another split")
    return torch.from_numpy(checked_labels(path, raw, len(CLASS_NAMES), first=1))


@register_dataset("stl10", needs="--data-root with stl10_binary/*.bin (official binary files)")
def load_stl10(root: Path | None, image_size: int | None = None) -> Dataset:
    folder = _folder(root)
    train_x, test_x = read_images(folder / "train_X.bin"), read_images(folder / "test_X.bin")
    train = ImageSet(train_x, {"class": read_labels(folder / "train_y.bin", len(train_x))})
    test = ImageSet(test_x, {"class": read_labels(folder / "test_y.bin", len(test_x))})
    pretrain = train
    if (folder / "unlabeled_X.bin").is_file():
        pretrain = ImageSet(torch.cat([train_x, read_images(folder / "unlabeled_X.bin")]))
    return Dataset("stl10", pretrain, train, test, {"class": CLASS_NAMES}, source=str(folder))
