"""The cache folder ($INFOMIN_CACHE, else ~/.cache/infomin): generated and resized datasets, kept
between runs so that the second run does not render or decode them again.

Everything in it is ours and can be made again, so a cached file that cannot be read (truncated,
garbage, a foreign or older file, arrays of the wrong shape) is never an error: it is said in one
line on stderr and rebuilt. The folder itself is the user's choice, so a file where the folder
should be, or a folder under a file, is refused in one line (we delete nothing we did not write).
Files are written atomically (a crash leaves the old file or the new one); `.npz` files are read
without pickles and `.pt` files with `weights_only=True`: a cache never runs code.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from infomin_cli.atomic import atomic_torch_save, atomic_write_bytes
from infomin_cli.paths import cache_folder, check_output_dir

FLAG = "$INFOMIN_CACHE"


def cache_dir() -> Path:
    """The folder, checked: a folder we can write, or one we can make."""
    path = cache_folder()
    check_output_dir(path, FLAG)
    return path


def _read(path: Path) -> dict[str, Any]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    import torch

    with warnings.catch_warnings():  # torch's remarks on a foreign pickle: the one line below says it
        warnings.simplefilter("ignore")
        data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise TypeError(f"a {type(data).__name__}, not a mapping of arrays")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    if path.suffix == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, **data)
        atomic_write_bytes(path, buffer.getvalue())
    else:
        atomic_torch_save(path, data)


def cached(name: str, build: Callable[[], dict[str, Any]], keys: Iterable[str] = (),
           check: Callable[[dict[str, Any]], str | None] | None = None) -> dict[str, Any]:
    """The arrays cached under `name` (.npz or .pt), built and written when missing or unusable.
    `keys` must all be there; `check` returns why the arrays do not fit (None when they do)."""
    path = cache_dir() / name
    if path.exists():
        why = None
        try:
            data = _read(path)
        except Exception as exc:  # noqa: BLE001 - truncated, garbage, pickled, unreadable: rebuilt all the same
            why = " ".join(str(exc).split())[:120] or type(exc).__name__
        else:
            missing = [key for key in keys if key not in data]
            why = f"no {missing[0]!r}" if missing else (check(data) if check is not None else None)
            if why is None:
                return data
        print(f"warning: cache {path} is damaged ({why}); rebuilding it", file=sys.stderr)
    data = build()
    _write(path, data)
    return data


def shape_check(expected: dict[str, tuple[tuple[int | None, ...], str]]) -> Callable[[dict[str, Any]], str | None]:
    """A `check` for arrays of known shapes (None: any size) and element types, e.g.
    {"images": ((n, 3, 32, 32), "uint8")}; numpy arrays and torch tensors alike."""

    def check(data: dict[str, Any]) -> str | None:
        for key, (shape, dtype) in expected.items():
            got = tuple(getattr(data[key], "shape", ()))
            if len(got) != len(shape) or any(want not in (None, size) for want, size in zip(shape, got, strict=True)):
                return f"{key!r} has shape {got}, expected {tuple('*' if s is None else s for s in shape)}"
            kind = str(getattr(data[key], "dtype", type(data[key]).__name__)).removeprefix("torch.")
            if kind != dtype:
                return f"{key!r} holds {kind}, expected {dtype}"
        return None

    return check
