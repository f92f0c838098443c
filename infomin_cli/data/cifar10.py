"""CIFAR-10 from the python pickle batches (cifar-10-batches-py/); never downloaded.

Images are resized once, at load, from 32 to 64 px (bilinear, antialiased), as the paper does for
evaluating CIFAR-10 with encoders trained at 64 px.

A batch is a pickled dict (`data`: uint8 (10000, 3072), `labels`: ints, `batch_label`, `filenames`),
written by Python 2's cPickle: the only globals it names are numpy's array reconstructors and its
dtype. A pickle can name any callable, and loading it calls them, so the batches are read by an
unpickler that resolves those few names and refuses every other (Python's `find_class` recipe):
a crafted file is one line, and none of its code runs.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

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


# (module, name) -> (the module to take it from now, its name there): numpy 2 moved numpy.core to
# numpy._core; the files name the old place, newer pickles the new one
ALLOWED = {
    **{(module, "_reconstruct"): ("multiarray", "_reconstruct")
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): ("multiarray", "scalar") for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): ("numeric", "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): ("", "ndarray"),
    ("numpy", "dtype"): ("", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),  # how Python 3 pickles bytes at protocol 2
}


class RefusedGlobal(pickle.UnpicklingError):
    pass


class BatchUnpickler(pickle.Unpickler):
    """Resolves only the globals a CIFAR-10 batch holds (ALLOWED); any other is refused unresolved."""

    def find_class(self, module: str, name: str) -> Any:
        where = ALLOWED.get((module, name))
        if where is None:
            raise RefusedGlobal(f"{module}.{name}")
        place, attribute = where
        if place == "_codecs":
            return getattr(importlib.import_module("_codecs"), attribute)
        for candidate in (f"numpy._core.{place}", f"numpy.core.{place}") if place else ("numpy",):
            try:
                return getattr(importlib.import_module(candidate), attribute)
            except (ImportError, AttributeError):
                continue
        raise RefusedGlobal(f"{module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise InfominError(f"missing {path}; dataset 'cifar10' expects {EXPECTED}")
    try:
        batch = BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"])
    except RefusedGlobal as exc:
        raise InfominError(f"{path} is not a CIFAR-10 pickle batch: it names {str(exc)[:80]}, which a batch never "
                           f"holds (refused, nothing in it was run); expected {EXPECTED}") from None
    except Exception as exc:  # noqa: BLE001 - truncated, garbage or another pickle: not a batch, whatever the error
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
