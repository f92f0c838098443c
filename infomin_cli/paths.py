"""Output paths checked before any work: a file where a folder is meant, a folder where a file
is meant, or a place this user cannot write, each in one line.

Commands call these at the boundary (before data is read or a model trained), so a run of an hour
never ends on "is a directory". The writers call them again, which costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from infomin_cli.errors import InfominError


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def _check_creatable(path: Path, flag: str) -> None:
    """`path` (not there yet) can be made: its nearest existing ancestor is a writable folder."""
    ancestor = _first_existing(path.parent if path.parent != path else path)
    if not ancestor.is_dir():
        raise InfominError(f"{flag} {path}: {ancestor} is a file, not a folder; choose a path under a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InfominError(f"{flag} {path}: folder {ancestor} is not writable; choose a path you can write")


def check_output_file(path: str | os.PathLike[str], flag: str) -> None:
    """A file we will create or append to."""
    path = Path(path)
    if path.is_dir():
        raise InfominError(f"{flag} {path} is a folder, not a file; name a file, e.g. {path / 'results.csv'}")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InfominError(f"{flag} {path} is not writable; choose another file")
        return
    _check_creatable(path, flag)


def check_output_dir(path: str | os.PathLike[str], flag: str) -> None:
    """A folder we will create or write into."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InfominError(f"{flag} {path} is a file, not a folder; choose another {flag}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InfominError(f"{flag} {path} is not writable; choose another {flag}")
        return
    _check_creatable(path / "x", flag)


def check_image_file(path: str | os.PathLike[str], flag: str, suffixes: tuple[str, ...] | None = None) -> None:
    """An image we will write: a file path whose suffix names a format we can write."""
    path = Path(path)
    if suffixes is None:
        from PIL import Image

        suffixes = tuple(sorted(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE))
    if path.suffix.lower() not in suffixes:
        shown = ", ".join(s for s in (".png", ".jpg", ".pdf") if s in suffixes) or ", ".join(suffixes[:5])
        raise InfominError(f"{flag} {path} has no image suffix we can write ({path.suffix or 'none'}); use e.g. {shown}")
    check_output_file(path, flag)
