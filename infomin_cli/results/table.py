"""The one results CSV: append-only, one self-describing row per (run, probe or estimate).

Rows are appended under an exclusive `flock` as a single `write` of the whole line followed by
`fsync`, so two processes never interleave and a crash leaves either the whole row or none.
Readers still drop a trailing line without its newline, in case a file came from elsewhere.

Files written before a column existed keep their header: a row is appended in the file's own
column order (columns the file lacks are dropped), and a reader sees every known column, the
missing ones as NaN. A header with a column this version does not know is refused, not rewritten.
"""

from __future__ import annotations

import csv
import fcntl
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from infomin_cli import __version__
from infomin_cli.errors import InfominError

# Documented in docs/ARCHITECTURE.md ("Results CSV").
COLUMNS: tuple[str, ...] = (
    "run_id",  # folder name of the run (unique per pretrain)
    "config_hash",  # sha256[:16] of the resolved config fields that change the result
    "timestamp",  # ISO-8601 UTC time the row was written
    "dataset",
    "views",  # view family name
    "knob_name",  # the family's swept knob ('' when the family has none)
    "knob_value",
    "seed",
    "encoder",
    "head",
    "objective",
    "temperature",
    "K",  # candidates per positive behind this row's i_nce (the held-out estimate's K; --negatives raises it)
    "K_train",  # candidates per positive of the training objective (batch size for in-batch InfoNCE)
    "loss",  # final training loss (nats)
    "i_nce",  # held-out I_NCE = log K - L_NCE (nats) of the trained run
    "probe_label",  # which label the probe predicts ('' for estimate rows)
    "probe_layer",
    "metric_name",  # e.g. top1, rmse, or mi:<estimator> for mi-estimate rows
    "metric_value",
    "metric_ci_low",  # 95% interval where the metric has one
    "metric_ci_high",
    "unit",  # '%', 'nats', 'bits', ...
    "epochs",
    "wall_seconds",  # seconds spent on this row's work (pretrain + probe, or the estimate)
    "infomin_version",
)
NUMERIC = frozenset({"seed", "temperature", "K", "K_train", "loss", "i_nce", "metric_value", "metric_ci_low",
                     "metric_ci_high", "epochs", "wall_seconds"})


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def append_row(path: str | os.PathLike[str], row: Mapping[str, Any]) -> None:
    """Append one row atomically, in the file's column order; writes the header if the file is new or empty."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown result columns: {sorted(unknown)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the header is read under the lock: a new file's first writer wins
        size = os.fstat(fd).st_size
        columns = COLUMNS if size == 0 else _header(path, fd)
        line = _line(row, columns)
        if size == 0:
            line = _line({c: c for c in columns}, columns) + line
        elif os.pread(fd, 1, size - 1) != b"\n":  # a torn line from elsewhere: start ours on a fresh one
            line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _line(row: Mapping[str, Any], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_format(row.get(c)) for c in columns])
    return buffer.getvalue()


def _header(path: Path, fd: int) -> tuple[str, ...]:
    """The existing file's columns; refuses (file untouched) a header that is not ours to append to."""
    first = b""
    while b"\n" not in first and len(first) < 1 << 16:
        chunk = os.pread(fd, 4096, len(first))
        if not chunk:
            break
        first += chunk
    try:
        columns = tuple(next(csv.reader([first.split(b"\n", 1)[0].decode().rstrip("\r")]), []))
    except (UnicodeDecodeError, csv.Error):
        columns = ()
    unknown = [c for c in columns if c not in COLUMNS]
    if not columns or unknown or len(set(columns)) != len(columns):
        why = f"its header has column {unknown[0][:40]!r}, unknown to infomin {__version__}" if unknown else \
            "its first line is not a results header"
        raise InfominError(f"cannot append to {path}: {why}; write to a new results file (--results/--csv)")
    return columns


def read_results(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a results CSV (ours, an older version's, or hand-written); fail in one line if a needed
    column is missing. Known columns the file lacks come back as NaN, in `COLUMNS` order, so old
    files and new ones concatenate; columns we do not know follow them."""
    path = Path(path)
    if not path.is_file():
        raise InfominError(f"results file {path} does not exist; run `infomin probe` or `infomin sweep` first")
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop a torn last line
    try:
        frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InfominError(f"{path} is not a readable CSV ({exc}); expected the columns of docs/ARCHITECTURE.md") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InfominError(f"{path} has no column {missing[0]!r}; it needs: {', '.join(required)}")
    for column in COLUMNS:
        if column not in frame.columns:  # text columns stay object dtype, so .fillna("") keeps working
            frame[column] = pd.Series(math.nan, index=frame.index, dtype=float if column in NUMERIC else object)
    return frame.reindex(columns=[*COLUMNS, *(c for c in frame.columns if c not in COLUMNS)])
