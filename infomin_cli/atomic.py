"""Atomic files: write to a temporary sibling, fsync, then rename over the target.

A crash at any moment leaves either the old file or the new one, never a torn one; this is what
makes `--resume` and "the last good checkpoint is kept" true.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run folder is meant to be shared like any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda handle: handle.write(text.encode()))


def atomic_torch_save(path: Path, obj: Any) -> None:
    import torch  # here, not above: the CLI writes text files without loading torch

    _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda handle: handle.write(data))
