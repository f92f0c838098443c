"""Output paths checked before any work: a file where a folder is meant, a folder where a file
is meant, a place this user cannot write, a name the filesystem refuses, or a folder holding
files of a run's names that no --resume claims, each in one line.

Commands call these at the boundary (before data is read or a model trained), so a run of an hour
never ends on "is a directory". The writers call them again, which costs nothing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from infomin_cli.errors import InfominError

# the files of a run folder (run_files.py reads them back)
CONFIG, CHECKPOINT, SUMMARY, METRICS = "config.yaml", "checkpoint.pt", "summary.json", "metrics.csv"
RUN_FILES = (CHECKPOINT, CONFIG, METRICS, SUMMARY)
NAME_MAX, PATH_MAX = 255, 4096  # POSIX's usual limits, when the filesystem does not say its own


def cache_folder() -> Path:
    """$INFOMIN_CACHE, else ~/.cache/infomin, unchecked: the datasets' cache (data/cache.py) checks it
    before it writes; the CLI's catalog (commands/_catalog.py) writes there only where it can."""
    return Path(os.environ.get("INFOMIN_CACHE") or Path.home() / ".cache" / "infomin")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:40]}...{text[-20:]}"


def check_name(path: str | os.PathLike[str], flag: str) -> None:
    """Every part of `path` is a name the filesystem accepts (its length in bytes), and the whole
    path too: a longer one is a traceback from the first `stat`."""
    path = Path(path)
    ancestor = _first_existing(path)
    folder = ancestor if ancestor.is_dir() else ancestor.parent
    longest = _limit(folder, "PC_NAME_MAX", NAME_MAX)
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > longest:
            raise InfominError(f"{flag} {_shown(path)}: the name {part[:24]}... is {size} bytes, longer than the "
                               f"{longest} the filesystem allows; choose a shorter name")
    size, most = len(os.fsencode(str(path.absolute()))), _limit(folder, "PC_PATH_MAX", PATH_MAX)
    if size >= most:
        raise InfominError(f"{flag} {_shown(path)}: the path is {size} bytes, over the {most} the system allows; "
                           "choose a shorter path")


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except OSError as exc:  # a name too long, or a file where a folder is meant: look further up
            if exc.errno not in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EACCES):
                raise
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
    check_name(path, flag)
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
    check_name(path, flag)
    if path.exists():
        if not path.is_dir():
            raise InfominError(f"{flag} {path} is a file, not a folder; choose another {flag}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InfominError(f"{flag} {path} is not writable; choose another {flag}")
        return
    _check_creatable(path / "x", flag)


def check_run_folder(path: str | os.PathLike[str], flag: str, resume: bool) -> None:
    """A folder a run writes its files into. Files of those names already there are a run's only
    when --resume says so (engine/pretrain.py then checks they are this run's); otherwise they
    may be the user's own, and would be replaced."""
    path = Path(path)
    check_output_dir(path, flag)
    found = [name for name in RUN_FILES if (path / name).exists()]
    if found and not resume:
        if found[0] == CHECKPOINT:
            raise InfominError(f"{path} already holds a run; pass --resume to continue it, or choose another {flag}")
        raise InfominError(f"{path} already holds {' and '.join(found)}, which a run there would replace; pass "
                           f"--resume if they are this run's, or choose another {flag}")


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
