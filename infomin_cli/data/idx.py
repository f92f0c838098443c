"""MNIST's idx files (LeCun's format), plain or gzipped, read without torchvision.

An idx file is a 4-byte magic number (two zero bytes, a data-type byte, the number of dimensions),
one big-endian uint32 per dimension, then the data in row-major order. MNIST uses only two: uint8
images (0x00000803: n, rows, cols) and uint8 labels (0x00000801: n). Everything is checked before
the data is used, because a half-finished download looks like a valid file to `np.frombuffer`
and would surface much later as a shape error inside a renderer.

The gzip stream is read in bounded chunks up to the size the header declares, plus one byte: a
header that lies about its size cannot make us allocate it, and reading past the data reaches the
gzip trailer, whose CRC check then catches a corrupt stream.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from infomin_cli.data.base import checked_labels
from infomin_cli.errors import InfominError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UINT8 = 0x08
GZIP_MAGIC = b"\x1f\x8b"
SIDE = 28
CLASSES = 10
CHUNK = 1 << 20
# the idx format's data-type byte, for naming what a foreign file holds
IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
EXPECTED_MAGIC = f"expected 0x{IMAGES_MAGIC:08X} for images or 0x{LABELS_MAGIC:08X} for labels"

SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FILES = tuple(name for pair in SPLITS.values() for name in pair)
LAYOUTS = (".", "mnist", "MNIST/raw")  # a flat folder, a named one, torchvision's


def read_idx(path: Path) -> np.ndarray:
    """A uint8 idx file as (n, rows, cols) images or (n,) labels; anything else is one line."""
    path = Path(path)
    try:
        with path.open("rb") as raw:
            head = raw.read(2)
            raw.seek(0)
            if head == GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _parse(path, stream, "gzip-compressed ")
            if path.suffix.lower() == ".gz":
                shown = head.hex(" ") or "nothing"
                raise InfominError(f"{path} is named .gz but is not gzip-compressed (it starts with {shown}, "
                                   "expected 1f 8b); download it again or drop the .gz from its name")
            return _parse(path, raw, "")
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise InfominError(f"{path} is a damaged gzip file ({why[:120]}); download it again") from None
    except OSError as exc:
        raise InfominError(f"cannot read {path} ({exc.strerror or exc}); check the file and its permissions") from None


def _parse(path: Path, stream: BinaryIO, kind: str) -> np.ndarray:
    magic = _read(stream, 4)
    if len(magic) < 4:
        raise InfominError(f"{path} is not an MNIST idx file ({kind}{len(magic)} bytes, shorter than the 4-byte "
                           f"magic number; {EXPECTED_MAGIC}); download it again")
    number = struct.unpack(">I", magic)[0]
    if magic[:2] != b"\0\0" or magic[3] not in (1, 3):
        raise InfominError(f"{path} is not an MNIST idx file (magic 0x{number:08X}, {EXPECTED_MAGIC}); "
                           "point --data-root at MNIST's idx files")
    if magic[2] != UINT8:
        held = IDX_TYPES.get(magic[2], "an unknown type")
        raise InfominError(f"{path} holds idx data type 0x{magic[2]:02X} ({held}; magic 0x{number:08X}), expected "
                           f"0x08 (uint8: {EXPECTED_MAGIC}); use MNIST's own idx files")
    ndim = magic[3]
    dims_bytes = _read(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise InfominError(f"{path} is truncated: its {kind}header needs {4 + 4 * ndim} bytes, the file has "
                           f"{4 + len(dims_bytes)}; download it again")
    dims = struct.unpack(f">{ndim}I", dims_bytes)
    size = math.prod(dims)
    data = _read(stream, size)
    shape = f"{' x '.join(map(str, dims))} = {size}" if ndim > 1 else f"{size}"
    if len(data) < size:
        raise InfominError(f"{path} is truncated: its header promises {shape} bytes of data, the file "
                           f"holds {len(data)}; download it again")
    extra = len(_read(stream, CHUNK))
    if extra:
        more = f"{extra}" if extra < CHUNK else f"at least {extra}"
        raise InfominError(f"{path} has {more} bytes after the {shape} bytes of data its header promises; "
                           "the file is damaged or not an MNIST idx file")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _read(stream: BinaryIO, size: int) -> bytearray:
    """Up to `size` bytes, in chunks, so a huge declared size costs only what is really there
    (a bytearray: the images come back writable, as torch.from_numpy wants them)."""
    buffer = bytearray()
    while len(buffer) < size:
        chunk = stream.read(min(CHUNK, size - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return buffer


def find_files(root: Path) -> dict[str, Path]:
    """The four files, all from one folder (never mixing two copies), plain preferred over .gz."""
    root = Path(root).expanduser()
    expected = (f"{', '.join(FILES)} (each may end in .gz) in {root}, {root / 'mnist'} or "
                f"{root / 'MNIST' / 'raw'} (torchvision's layout)")
    if not root.is_dir():
        raise InfominError(f"{root} is not a folder; MNIST expects {expected}")
    best: tuple[int, Path, list[str]] | None = None
    for layout in LAYOUTS:
        folder = root / layout if layout != "." else root
        found = {name: _one_of(folder, name) for name in FILES}
        missing = [name for name, path in found.items() if path is None]
        if not missing:
            return {name: path for name, path in found.items() if path is not None}
        if best is None or len(missing) < len(best[2]):
            best = (len(FILES) - len(missing), folder, missing)
    assert best is not None
    count, folder, missing = best
    partial = f"; {folder} lacks {', '.join(missing)}" if count else ""
    raise InfominError(f"no MNIST idx files found: expected {expected}{partial}")


def _one_of(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (uint8 (N, 28, 28), int64 (N,)), "test": ...} from the idx files under `root`."""
    files = find_files(root)
    out = {}
    for split, (images_name, labels_name) in SPLITS.items():
        images_path, labels_path = files[images_name], files[labels_name]
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3:
            raise InfominError(f"{images_path} holds labels (magic 0x{LABELS_MAGIC:08X}), expected images "
                               f"(0x{IMAGES_MAGIC:08X}); the files' names are swapped")
        if images.shape[1:] != (SIDE, SIDE):
            raise InfominError(f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, expected MNIST's "
                               f"{SIDE}x{SIDE}; use MNIST's own idx files")
        if labels.ndim != 1:
            raise InfominError(f"{labels_path} holds images (magic 0x{IMAGES_MAGIC:08X}), expected labels "
                               f"(0x{LABELS_MAGIC:08X}); the files' names are swapped")
        if len(images) == 0:
            raise InfominError(f"{images_path} holds 0 images: no {split} split to train or probe on; "
                               "download MNIST's idx files again")
        if len(images) != len(labels):
            raise InfominError(f"{labels_path} holds {len(labels)} labels for the {len(images)} images in "
                               f"{images_path.name}; the files are from different splits or one is damaged")
        out[split] = (images, checked_labels(labels_path, labels, CLASSES))
    return out
