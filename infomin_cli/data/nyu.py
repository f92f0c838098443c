"""NYU-Depth-v2 (labelled subset) from its official files, for segmentation probes (paper B.2).

`--data-root` must hold:

- `nyu_depth_v2_labeled.mat` (~2.8 GB): MATLAB v7.3, i.e. HDF5. Read with h5py, whose axes come
  out reversed: `images` is (1449, 3, 640, 480) and `labels` (1449, 640, 480), so each frame is
  transposed back to (480, 640[, 3]). `labels` is uint16: 0 = unlabelled, 1..894 index the raw
  class names. The file is read one frame at a time, never whole.
- `splits.mat` (v5, scipy.io.loadmat): `trainNdxs` (795) and `testNdxs` (654), 1-based.
- `classMapping40.mat`, key `mapClass`: raw class 1..894 -> 1..40 (Gupta et al.'s 40 classes).
- for `classes=13` also `class13Mapping.mat`, key `classMapping13` (a struct whose `labels13`
  field maps the 40 classes to 1..13, Couprie et al.'s set).
  Copies of the three small files live in e.g. ankurhanda/nyuv2-meta-data.

Frames lose the Kinect's invalid margin (rows 7:474, cols 7:632 of a 480 x 640 frame, the usual
crop), then are resized to `size` x `size` (bilinear, antialiased) and their labels by nearest
neighbour. Squashing 4:3 to a square keeps every labelled pixel; the probes' encoders take square
inputs. Masks hold class - 1 (0..classes-1) and MASK_IGNORE for unlabelled pixels. The resized
split is cached as one small uint8 tensor file next to the embedded set's cache (data/cache.py: a
damaged one is read again from the .mat file). The class maps must hold whole class numbers in
range, and frames of no pixels are refused: either would give masks that score nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from infomin_cli.data.base import MASK_IGNORE, Dataset, ImageSet, register_dataset, require_root
from infomin_cli.data.cache import cached, shape_check
from infomin_cli.errors import InfominError

NAME = "nyu-depth-v2"
MAT, SPLITS, MAP40, MAP13 = "nyu_depth_v2_labeled.mat", "splits.mat", "classMapping40.mat", "class13Mapping.mat"
DEFAULT_SIZE = 96  # probe input side (px); see docs/ARCHITECTURE.md, "Segmentation probes"
CLASS_SETS = (40, 13)
KINECT_CROP = (slice(7, 474), slice(7, 632))  # valid region of a 480 x 640 frame
CACHE_VERSION = 1
NAMES_40 = [
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf", "picture",
    "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror", "floor mat", "clothes",
    "ceiling", "books", "refrigerator", "television", "paper", "towel", "shower curtain", "box", "whiteboard",
    "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure", "otherfurniture",
    "otherprop",
]
NAMES_13 = ["bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "picture", "sofa", "table", "tv",
            "wall", "window"]
EXPECTED = f"{MAT} (official, HDF5), {SPLITS} and {MAP40} (+ {MAP13} for 13 classes)"


def _need(root: Path, name: str, what: str) -> Path:
    path = root / name
    if not path.is_file():
        raise InfominError(f"dataset {NAME!r}: {path} is missing; expected {what} there")
    return path


def _loadmat(path: Path) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line for the user
        raise InfominError(f"dataset {NAME!r}: {path} is not a readable MATLAB v5 file ({exc})") from None


def _key(data: dict, key: str, path: Path) -> np.ndarray:
    if key not in data:
        keys = ", ".join(k for k in data if not k.startswith("__")) or "none"
        raise InfominError(f"dataset {NAME!r}: {path} has no key {key!r} (keys there: {keys})")
    return data[key]


def read_splits(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """0-based train and test frame indices from splits.mat (stored 1-based)."""
    path = _need(root, SPLITS, "the official train/test split (keys trainNdxs, testNdxs)")
    data = _loadmat(path)
    out = []
    for key in ("trainNdxs", "testNdxs"):
        values = np.asarray(_key(data, key, path)).reshape(-1)
        if values.size == 0 or not np.issubdtype(values.dtype, np.number) or values.min() < 1:
            raise InfominError(f"dataset {NAME!r}: {path} key {key!r} must hold 1-based frame indices")
        out.append(values.astype(np.int64) - 1)
    return out[0], out[1]


def _labels13(value: np.ndarray, path: Path) -> np.ndarray:
    """The 40 -> 13 table inside the `classMapping13` struct (field `labels13`, else its first field)."""
    try:
        struct = value.reshape(-1)[0]
        names = struct.dtype.names
        if names:
            table = struct["labels13"] if "labels13" in names else struct[names[0]]
        else:
            table = value
        table = np.asarray(table, dtype=np.float64).reshape(-1)
    except (IndexError, TypeError, ValueError):
        table = np.empty(0)
    if table.size != 40 or not _whole_in(table, 1, 13):
        raise InfominError(f"dataset {NAME!r}: {path} key 'classMapping13' must map the 40 classes to 1..13 "
                           f"(a labels13 field of 40 whole numbers from 1 to 13)")
    return table


def _whole_in(values: np.ndarray, low: int, high: int) -> bool:
    """Every value a whole number in [low, high] (a class index), NaN and fractions excluded."""
    values = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values))
                and values.min(initial=low) >= low and values.max(initial=high) <= high)


def class_table(root: Path, classes: int) -> np.ndarray:
    """Lookup table raw label (0..894) -> mask value (class - 1, or MASK_IGNORE for unlabelled)."""
    if classes not in CLASS_SETS:
        raise InfominError(f"--classes {classes} is not valid for {NAME!r}; choose 40 or 13")
    path40 = _need(root, MAP40, "the 894 -> 40 class mapping (key mapClass)")
    map40 = np.asarray(_key(_loadmat(path40), "mapClass", path40)).reshape(-1)
    if map40.size == 0 or not np.issubdtype(map40.dtype, np.number) or not _whole_in(map40, 0, 40):
        raise InfominError(f"dataset {NAME!r}: {path40} key 'mapClass' must map raw classes to whole numbers 0..40")
    mapped = map40.astype(np.int64)  # 1..40 (0: no class)
    if classes == 13:
        path13 = _need(root, MAP13, "the 40 -> 13 class mapping (key classMapping13)")
        labels13 = _labels13(_key(_loadmat(path13), "classMapping13", path13), path13).astype(np.int64)
        mapped = np.where(mapped > 0, np.concatenate([[0], labels13])[mapped], 0)
    table = np.full(len(mapped) + 1, MASK_IGNORE, dtype=np.uint8)  # raw 0 = unlabelled
    table[1:] = np.where(mapped > 0, mapped - 1, MASK_IGNORE)
    return table


def read_frames(path: Path, indices: np.ndarray, table: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (n, 3, size, size) and masks (n, size, size) for the given 0-based frames, read
    one at a time from the HDF5 datasets (never the whole file)."""
    try:
        import h5py
    except ImportError:
        raise InfominError(f"reading {MAT} needs h5py (pip install h5py)") from None
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise InfominError(f"dataset {NAME!r}: {path} is not a MATLAB v7.3 (HDF5) file") from None
    with handle:
        for key in ("images", "labels"):
            if key not in handle:
                raise InfominError(f"dataset {NAME!r}: {path} has no key {key!r} (keys there: {', '.join(handle)})")
        images, labels = handle["images"], handle["labels"]
        if images.ndim != 4 or images.shape[1] != 3 or labels.ndim != 3 or labels.shape != (
                images.shape[0], images.shape[2], images.shape[3]):
            raise InfominError(f"dataset {NAME!r}: {path} keys 'images' {images.shape} and 'labels' {labels.shape} "
                               "do not have the official layout (N, 3, W, H) and (N, W, H)")
        if min(images.shape[2:]) == 0:
            raise InfominError(f"dataset {NAME!r}: {path} holds frames of {images.shape[3]} x {images.shape[2]} px, "
                               "no pixels to segment; use the official file (640 x 480 frames)")
        if len(indices) and indices.max() >= images.shape[0]:
            raise InfominError(f"dataset {NAME!r}: {SPLITS} names frame {indices.max() + 1} but {path} holds "
                               f"{images.shape[0]}")
        out_images = torch.empty((len(indices), 3, size, size), dtype=torch.uint8)
        out_masks = torch.empty((len(indices), size, size), dtype=torch.uint8)
        for row, index in enumerate(indices):
            image = np.asarray(images[int(index)]).transpose(2, 1, 0)  # (3, W, H) -> (H, W, 3)
            label = np.asarray(labels[int(index)]).T  # (W, H) -> (H, W)
            if label.max(initial=0) >= len(table):
                raise InfominError(f"dataset {NAME!r}: {path} frame {index + 1} has label {int(label.max())}, "
                                   f"beyond the {len(table) - 1} raw classes of {MAP40}")
            if image.shape[:2] == (480, 640):
                image, label = image[KINECT_CROP], label[KINECT_CROP]
            mask = table[label.astype(np.int64)]
            out_images[row] = torch.from_numpy(np.asarray(
                Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).resize((size, size), Image.BILINEAR)
            ).transpose(2, 0, 1).copy())
            out_masks[row] = torch.from_numpy(np.array(Image.fromarray(mask).resize((size, size), Image.NEAREST)))
    return out_images, out_masks


def _fingerprint(files: list[Path], size: int, classes: int) -> str:
    facts = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    blob = json.dumps({"files": facts, "size": size, "classes": classes, "version": CACHE_VERSION})
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def load_nyu(root: Path | str | None, size: int | None = None, classes: int = 40) -> Dataset:
    """The 795 / 654 split at `size` px with `classes`-class masks (cached after the first read)."""
    root = require_root(NAME, Path(root) if root is not None else None, EXPECTED)
    size = int(DEFAULT_SIZE if size is None else size)
    mat = _need(root, MAT, "the official labelled NYU-Depth-v2 file (MATLAB v7.3 / HDF5)")
    table = class_table(root, classes)
    train_idx, test_idx = read_splits(root)
    files = [mat, root / SPLITS, root / MAP40] + ([root / MAP13] if classes == 13 else [])
    splits = {"train": train_idx, "test": test_idx}
    expected = {}
    for split, indices in splits.items():
        expected |= {f"{split}_images": ((len(indices), 3, size, size), "uint8"),
                     f"{split}_masks": ((len(indices), size, size), "uint8")}

    def build() -> dict[str, torch.Tensor]:
        arrays = {}
        for split, indices in splits.items():
            arrays[f"{split}_images"], arrays[f"{split}_masks"] = read_frames(mat, indices, table, size)
        return arrays

    arrays = cached(f"nyu-{_fingerprint(files, size, classes)}.pt", build, expected, shape_check(expected))
    train = ImageSet(arrays["train_images"], masks=arrays["train_masks"])
    test = ImageSet(arrays["test_images"], masks=arrays["test_masks"])
    return Dataset(name=NAME, pretrain=train, train=train, test=test, source=f"{root} ({classes} classes, {size} px)",
                   mask_names=list(NAMES_40 if classes == 40 else NAMES_13))


@register_dataset(NAME, needs=f"--data-root with {MAT} (HDF5), {SPLITS}, {MAP40} (+ {MAP13})", labels=(), masks=True,
                  mask_label="nyu{classes}", class_sets=CLASS_SETS)
def load_nyu_depth_v2(root: Path | None = None, image_size: int | None = None, classes: int = CLASS_SETS[0]) -> Dataset:
    return load_nyu(root, image_size, classes)
