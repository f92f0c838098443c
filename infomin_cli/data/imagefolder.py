"""Class-per-folder image datasets (ImageNet, TinyImageNet, any ImageFolder), decoded into memory.

Small folders are decoded once (PIL, in threads), resized so the short side is `store` px and
centre-cropped square, and held as one uint8 tensor like every other dataset, so views run batched
on the device. A folder whose decoded tensor would take over half the available memory (ImageNet)
is streamed from disk instead (data/stream.py), automatically or with --stream; --no-stream keeps
it in memory. Unreadable files are skipped and counted (--strict-data: a one-line error instead).

Layouts: `root/train/<class>/**/*.{jpg,jpeg,png}` and `root/val/<class>/**` (ImageNet with its val
set sorted into class folders), or TinyImageNet's `val/images/` + `val/val_annotations.txt`.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from infomin_cli.data.base import Dataset, ImageSet, register_dataset, require_root, rgb_uint8
from infomin_cli.data.stream import Fit, StreamSource, stream_decision
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
    if not paths:
        raise InfominError(f"no images in the class folders of {train} (suffixes {', '.join(sorted(SUFFIXES))}); "
                           f"expected {EXPECTED}")
    return paths, labels, classes


def _val_listing(root: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    val = root / "val"
    annotations = val / "val_annotations.txt"
    index = {name: i for i, name in enumerate(classes)}
    paths, labels = [], []
    if annotations.is_file():  # TinyImageNet
        for line in _annotation_lines(annotations):
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] in index:
                paths.append(val / "images" / parts[0])
                labels.append(index[parts[1]])
        if not paths:
            raise InfominError(f"{annotations} names no image of a class in {root / 'train'} (lines: FILE<TAB>CLASS); "
                               f"expected {EXPECTED}")
        return paths, labels
    for name in classes:
        found = _images_under(val / name) if (val / name).is_dir() else []
        paths += found
        labels += [index[name]] * len(found)
    if not paths:
        raise InfominError(f"no validation images in {val}; expected {EXPECTED}")
    return paths, labels


def _annotation_lines(path: Path) -> list[str]:
    try:
        return path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InfominError(f"{path} is not UTF-8 text (byte {exc.start}); TinyImageNet's val_annotations.txt is "
                           "FILE<TAB>CLASS lines: restore it from the dataset") from None
    except OSError as exc:
        raise InfominError(f"cannot read {path} ({exc.strerror}); check the file and its permissions") from None


def _decode(path: Path, store: int) -> np.ndarray | str:
    """The stored square, or why the file cannot be read."""
    try:
        with Image.open(path) as opened:
            image = Image.fromarray(rgb_uint8(path, opened))
            scale = store / min(image.size)
            w, h = max(store, round(image.width * scale)), max(store, round(image.height * scale))
            image = image.resize((w, h), Image.BILINEAR, reducing_gap=2.0)
            left, top = (w - store) // 2, (h - store) // 2
            return np.array(image.crop((left, top, left + store, top + store)), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return str(exc)


def _load(paths: list[Path], labels: list[int], store: int, strict: bool, folder: Path) -> ImageSet:
    """Decode every file; unreadable ones are left out and counted (or, strict, named in one line).
    A split left with no image is refused here, before training, not by the k-NN monitor after
    the first epoch is written."""
    out = torch.empty((len(paths), 3, store, store), dtype=torch.uint8)
    keep, bad = [], []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for i, array in enumerate(pool.map(lambda p: _decode(p, store), paths)):
            if isinstance(array, str):
                if strict:
                    raise InfominError(f"cannot read {paths[i]} ({array}); fix or remove it, or drop --strict-data "
                                       "to skip unreadable files")
                bad.append(paths[i])
                continue
            out[len(keep)] = torch.from_numpy(array).permute(2, 0, 1)
            keep.append(i)
    if bad and not keep:
        raise InfominError(f"no image in {folder} can be read ({len(bad)} unreadable, e.g. {bad[0]}); "
                           "fix or replace the files")
    if bad:
        print(f"warning: skipped {len(bad)} unreadable image(s), e.g. {bad[0]}", file=sys.stderr)
    return ImageSet(out[: len(keep)].clone(), {"class": torch.tensor([labels[i] for i in keep], dtype=torch.int64)})


def _interleave(paths: list[Path], labels: list[int]) -> tuple[list[Path], list[int]]:
    """Round-robin over classes so that any prefix (`--limit`) is class-balanced."""
    counts: dict[int, int] = {}
    rank = []
    for label in labels:
        rank.append(counts.get(label, 0))
        counts[label] = rank[-1] + 1
    order = sorted(range(len(labels)), key=lambda i: (rank[i], labels[i]))
    return [paths[i] for i in order], [labels[i] for i in order]


def load_folder(name: str, root: Path | None, store: int, stream: bool | None = None, strict: bool = False,
                workers: int | None = None) -> Dataset:
    root = require_root(name, root, EXPECTED)
    train_paths, train_labels, classes = _train_listing(root)
    val_paths, val_labels = _val_listing(root, classes)
    train_paths, train_labels = _interleave(train_paths, train_labels)
    if stream_decision(name, len(train_paths) + len(val_paths), store, stream):
        def source(paths: list[Path], labels: list[int]) -> StreamSource:
            return StreamSource(paths, {"class": torch.tensor(labels, dtype=torch.int64)}, Fit(store), strict, workers)

        train = _readable(source(train_paths, train_labels), root / "train")
        test = _readable(source(val_paths, val_labels), root / "val")
        return Dataset(name, train, train, test, {"class": classes}, source=str(root))
    train = _load(train_paths, train_labels, store, strict, root / "train")
    test = _load(val_paths, val_labels, store, strict, root / "val")
    return Dataset(name, train, train, test, {"class": classes}, source=str(root))


def _readable(source: StreamSource, folder: Path) -> StreamSource:
    """A streamed split whose first item reads as the k-NN monitor, the probes and held-out I_NCE
    will read it (an unreadable file replaced by the next, up to SUBSTITUTES of them), found before
    training rather than after the first epoch is written."""
    met = dict(source.skipped)  # what training meets is counted by training
    try:
        source.batch(torch.zeros(1, dtype=torch.int64))
    except InfominError as exc:
        if source.strict:
            raise
        raise InfominError(f"no readable image at the start of {folder}: {exc}") from None
    finally:
        source.skipped.clear()
        source.skipped.update(met)
    return source


def _store_size(image_size: int | None, default: int) -> int:
    """Stored a little larger than the encoder input, as ImageNet's 256 -> 224 crops are."""
    return round((default if image_size is None else image_size) * 256 / 224)


register_dataset("imagefolder", needs="--data-root with train/<class>/ and val/<class>/ image folders", storage="stream")(
    lambda root, image_size=None, **kw: load_folder("imagefolder", root, _store_size(image_size, 64), **kw))
register_dataset("imagenet", needs="--data-root with train/<class>/ and val/<class>/ (in memory if it fits, else "
                 "streamed; --stream)", storage="stream")(
    lambda root, image_size=None, **kw: load_folder("imagenet", root, _store_size(image_size, 224), **kw))
register_dataset("tinyimagenet", needs="--data-root with train/<wnid>/images/ and val/ + val_annotations.txt",
                 storage="stream")(
    lambda root, image_size=None, **kw: load_folder("tinyimagenet", root, 64 if image_size is None else image_size, **kw))
