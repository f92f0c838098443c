"""The one results CSV: append-only, one self-describing row per (run, probe or estimate).

Rows are appended under an exclusive `flock` as a single `write` of the whole line followed by
`fsync`, so two processes never interleave and a crash leaves either the whole row or none.
Readers still drop a trailing line without its newline, in case a file came from elsewhere.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

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
    "K",  # number of candidates per positive in the NCE estimate (batch size for in-batch InfoNCE)
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


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def append_row(path: str | os.PathLike[str], row: Mapping[str, Any]) -> None:
    """Append one row atomically; writes the header first if the file is new or empty."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown result columns: {sorted(unknown)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_format(row.get(c)) for c in COLUMNS])
    line = buffer.getvalue()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size == 0:
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(COLUMNS)
            line = header.getvalue() + line
        else:
            with open(path, "rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":  # a torn line from elsewhere: start ours on a fresh one
                    line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_results(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a results CSV (ours or hand-written); fail in one line if a needed column is missing."""
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
    return frame
