"""CIFAR-10 from the python pickle batches (cifar-10-batches-py/); never downloaded.

Images are resized once, at load, from 32 to 64 px (bilinear, antialiased), as the paper does for
evaluating CIFAR-10 with encoders trained at 64 px.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infomin_cli.data.base import (
    Dataset,
    ImageSet,
    checked_labels,
    checked_pixels,
    register_dataset,
    require_root,
)
from infomin_cli.errors import InfominError

EXPECTED = "cifar-10-batches-py/{data_batch_1..5,test_batch}, the CIFAR-10 python pickle batches"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DEFAULT_SIZE = 64


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise InfominError(f"missing {path}; dataset 'cifar10' expects {EXPECTED}")
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError,
            IndexError, ImportError, UnicodeDecodeError) as exc:
        raise InfominError(f"{path} is not a CIFAR-10 pickle batch ({type(exc).__name__}); expected {EXPECTED}") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.ndim != 1 or len(labels) != len(data):
        raise InfominError(f"{path} holds data of shape {data.shape}; a CIFAR-10 batch is (N, 3072) with N labels")
    data = checked_pixels(path, data)
    labels = checked_labels(path, labels, len(CLASS_NAMES))
    return data.reshape(-1, 3, 32, 32), labels


def resize_uint8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].float()
        block = F.interpolate(block, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = block.round().clamp(0, 255).to(torch.uint8)
    return out


@register_dataset("cifar10", needs="--data-root with cifar-10-batches-py/ (python pickles), resized to 64 px")
def load_cifar10(root: Path | None, image_size: int | None = None) -> Dataset:
    root = require_root("cifar10", root, EXPECTED)
    folder = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    size = DEFAULT_SIZE if image_size is None else image_size
    parts = [_read_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    train_x = resize_uint8(torch.from_numpy(np.concatenate([p[0] for p in parts])), size)
    train_y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    test_x, test_y = _read_batch(folder / "test_batch")
    train = ImageSet(train_x, {"class": train_y})
    test = ImageSet(resize_uint8(torch.from_numpy(test_x), size), {"class": torch.from_numpy(test_y)})
    return Dataset("cifar10", train, train, test, {"class": CLASS_NAMES}, source=str(folder))
