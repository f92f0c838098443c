"""The data contract: uint8 image tensors plus a dict of integer labels, split three ways.

Small datasets (embedded, STL-10, CIFAR-10) are held whole in memory as one uint8 tensor, so the
engine can move them to the device once and build views on whole batches there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from infomin_cli.errors import InfominError
from infomin_cli.registry import Registry

MASK_IGNORE = 255  # mask value of unlabelled pixels: no loss, not scored


@dataclass
class ImageSet:
    images: torch.Tensor  # uint8 (N, C, H, W), CPU
    labels: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> int64 (N,)
    masks: torch.Tensor | None = None  # uint8 (N, H, W) per-pixel classes for segmentation; MASK_IGNORE = unlabelled

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N,C,H,W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.masks is not None and (self.masks.dtype != torch.uint8 or self.masks.ndim != 3
                                       or len(self.masks) != len(self.images)):
            raise ValueError(f"masks must be uint8 (N,H,W) for {len(self.images)} images, "
                             f"got {self.masks.dtype} {tuple(self.masks.shape)}")
        for name, y in self.labels.items():
            if len(y) != len(self.images):
                raise ValueError(f"label {name!r} has {len(y)} entries for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, n: int | None) -> ImageSet:
        """The first n items (datasets are stored shuffled or class-balanced, so a prefix is fair)."""
        if n is None or n >= len(self):
            return self
        masks = None if self.masks is None else self.masks[:n]
        return ImageSet(self.images[:n], {k: v[:n] for k, v in self.labels.items()}, masks)


@runtime_checkable
class BatchSource(Protocol):
    """What every consumer of images needs, and nothing more."""

    labels: Mapping[str, torch.Tensor]  # name -> int64 (N,) on the CPU; may be empty (unlabelled)

    def __len__(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...]:
        """One item's shape: (C, H, W) for images, (T, C, H, W) for frame sequences."""
        ...

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """uint8 (B, *shape) for `indices` (int64, any device), on `device` (default: where it lives)."""
        ...


@dataclass
class Dataset:
    """Splits are `ImageSet`s in memory, or sources that stream from disk (data/stream.py: folders too
    large for memory) or generate their items (Moving MNIST's sequences); all are read through
    `data.source.as_source`, and `data.source.storage_of` says which a split is."""

    name: str
    pretrain: ImageSet | BatchSource  # what contrastive training sees (may include unlabeled images)
    train: ImageSet | BatchSource  # labelled: the probe is fitted here
    test: ImageSet | BatchSource  # labelled: probe accuracy and held-out I_NCE are measured here
    label_names: dict[str, list[str]] = field(default_factory=dict)  # label -> class names
    source: str = ""  # where it came from, for the saved config
    mask_names: list[str] = field(default_factory=list)  # segmentation class names (mask value -> name)

    @property
    def label_keys(self) -> list[str]:
        return sorted(self.test.labels)

    @property
    def main_label(self) -> str | None:
        """The label the k-NN monitor reads: the first its registry entry declares that both labelled
        splits hold (None: none, e.g. DIV2K's per-image ids, where a neighbour's label means nothing)."""
        declared = DATASETS.get(self.name).labels if self.name in DATASETS else ("class",)
        return next((name for name in declared if name in self.test.labels and name in self.train.labels), None)

    def check_label(self, label: str) -> None:
        if label not in self.test.labels:
            raise InfominError(
                f"dataset {self.name!r} has no label {label!r}; its labels: {', '.join(self.label_keys)}"
            )


# loader(root, image_size) -> Dataset. root is None for datasets that need no files.
Loader = Callable[[Path | None, int | None], Dataset]
ITEMS = ("image", "sequence")
STORAGE = ("memory", "stream", "generated")


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its loader and what it is (timm's idea: metadata on the entry), so
    generic code (run checks, probe tasks, the k-NN monitor, listings) asks it instead of a name."""

    load: Callable[..., Dataset]  # (root, image_size); a "stream" loader also takes stream=, strict=, workers=
    needs: str = ""  # what it reads from disk, for `infomin datasets`
    item: str = "image"  # "image": (C, H, W); "sequence": frames (T, C, H, W)
    labels: tuple[str, ...] = ("class",)  # its class labels, the main one first (k-NN monitor, default probe label)
    targets: tuple[str, ...] = ()  # regression targets (float (N, d)), e.g. a position in px
    masks: bool = False  # per-pixel classes, for segmentation probes
    mask_label: str = "mask"  # what its masks hold (a segmentation row's probe_label; {classes}: the class set)
    class_sets: tuple[int, ...] = ()  # class sets its loader offers (`classes=`), the default first
    storage: str = "memory"  # "memory"; "stream": a folder read from disk when it does not fit; "generated"
    encoder: str | None = None  # the encoder its items need (None: any image encoder)
    default_for: str | None = None  # the views' data kind (`ViewFamily.data_kind`) it is the default dataset of

    def __post_init__(self) -> None:
        if self.item not in ITEMS or self.storage not in STORAGE:
            raise ValueError(f"dataset item {self.item!r} / storage {self.storage!r}: choose from {ITEMS} / {STORAGE}")

    def describe(self) -> str:
        """Its labels, targets and masks in words (the listing)."""
        parts = [", ".join(self.labels + tuple(f"{t} (regression)" for t in self.targets))]
        return "; ".join([p for p in parts if p] + (["segmentation masks"] if self.masks else []))


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register_dataset(name: str, **capabilities: Any) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """`@register_dataset("stl10", needs=...)` on a loader: the entry holds the loader and its capabilities."""
    def add(load: Callable[..., Dataset]) -> Callable[..., Dataset]:
        DATASETS.add(name, DatasetEntry(load, **capabilities))
        return load

    return add


def default_dataset(data_kind: str) -> str:
    """The dataset a view family of `data_kind` trains on unless told (the images' default otherwise)."""
    for kind in (data_kind, "images"):
        for name, entry in DATASETS.items():
            if entry.default_for == kind:
                return name
    raise InfominError(f"no dataset is registered as the default for {data_kind} views; pass --dataset")


def require_root(name: str, root: Path | None, expected: str) -> Path:
    """Fail with one line saying which folder and which files a dataset needs."""
    if root is None:
        raise InfominError(f"dataset {name!r} needs --data-root pointing at a folder with {expected}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InfominError(f"--data-root {root} is not a folder; dataset {name!r} expects {expected} there")
    return root


# Dataset contents, checked where each file is read, so a bad file is named in one line rather
# than met later as an index error inside a loss or as silently wrapped pixel values.

def checked_pixels(path: Path, values: np.ndarray) -> np.ndarray:
    """`values` as uint8, refusing what does not fit (uint8 arrays pass untouched)."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if values.size and (values.dtype.kind not in "iuf" or not np.isfinite(values).all()
                        or values.min() < 0 or values.max() > 255 or (values != np.round(values)).any()):
        low, high = (values.min(), values.max()) if values.dtype.kind in "iuf" else ("?", "?")
        raise InfominError(f"{path} holds pixel values from {low} to {high} ({values.dtype}), which do not fit "
                           "uint8 (whole numbers 0..255); the file is damaged or not in the expected format")
    return values.astype(np.uint8)


def checked_labels(path: Path, labels: np.ndarray, classes: int, first: int = 0) -> np.ndarray:
    """Integer labels in first..first+classes-1, as int64 counted from 0."""
    labels = np.asarray(labels)
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < first or labels.max() >= first + classes):
        shown = f"{labels.min()}..{labels.max()}" if labels.dtype.kind in "iuf" else f"of type {labels.dtype}"
        raise InfominError(f"{path} holds labels {shown}; the {classes} classes are labelled "
                           f"{first}..{first + classes - 1}; the file is damaged or not in the expected format")
    return labels.astype(np.int64) - first


def rgb_uint8(path: Path, image) -> np.ndarray:
    """A PIL image as (H, W, 3) uint8; 16-bit or float images whose values do not fit 8 bits are refused."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        low, high = image.getextrema()
        if low < 0 or high > 255:
            raise InfominError(f"{path} is a {image.mode} image with values {low}..{high}, which do not fit 8 bits; "
                               "convert it to 8-bit RGB (e.g. PIL: image.point(lambda v: v / 257).convert('RGB'))")
        grey = np.asarray(image).round().astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
