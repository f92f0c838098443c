"""The one results CSV: append-only, one self-describing row per (run, probe or estimate).

Rows are appended under an exclusive `flock` as a single `write` of the whole line followed by
`fsync`, so two processes never interleave and a crash leaves either the whole row or none.

This module is the only reader and writer of results files, and it guards both ways:
- an append first checks, under the lock, that the file is UTF-8 text whose header is ours; a
  foreign file (other columns, a PNG, non-UTF-8 bytes) is refused in one line and left as it was.
  `check_appendable` runs the same checks before a command does any work;
- the reader keeps a final line without a newline when it parses as a whole row (a hand-written
  file); a line with the wrong number of fields (a torn write) is reported on stderr, once, and
  left out; undecodable bytes or an unreadable header are one line naming the file.

Files written before a column existed keep their header: a row is appended in the file's own
column order (the later columns the file lacks are dropped), and a reader sees every known column,
the missing ones as NaN. A header with a column this version does not know, or without one of the
first release's columns (`CORE_COLUMNS`), is refused, not rewritten; such a file is still read.
"""

from __future__ import annotations

import csv
import fcntl
import io
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomin_cli import __version__
from infomin_cli.errors import InfominError
from infomin_cli.paths import check_output_file

if TYPE_CHECKING:  # pandas loads where a table is read: appending a row, and the CLI's start, go without it
    import pandas as pd

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
    "probe_task",  # classification (linear probe), segmentation (decoder); '' for estimate rows
    "probe_epochs",  # epochs of the linear probe or the segmentation decoder behind metric_value
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
                     "metric_ci_high", "epochs", "probe_epochs", "wall_seconds"})
# a results file of any kind has at least these (what `is_results_file` looks for)
HEADER_CORE = ("run_id", "metric_name", "metric_value")
# columns added after the first release (whose files, e.g. under docs/, lack them); every other
# column is core: a file without one is not ours to append to (a row there would lose that cell)
LATER_COLUMNS = ("K_train", "probe_task", "probe_epochs")
CORE_COLUMNS = tuple(c for c in COLUMNS if c not in LATER_COLUMNS)
_REPORTED: set[tuple[str, int, int, int]] = set()  # (file, size, mtime, line) of torn lines already reported


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
    check_output_file(path, "results file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InfominError(f"cannot write results file {path} ({exc.strerror}); choose another file") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the file is read under the lock: a new file's first writer wins
        size = os.fstat(fd).st_size
        columns = COLUMNS if size == 0 else _appendable_columns(path, _read_all(fd, size))
        line = _line(row, columns)
        if size == 0:
            line = _line({c: c for c in columns}, columns) + line
        elif os.pread(fd, 1, size - 1) != b"\n":  # a last line without its newline: start ours on a fresh one
            line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_results_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an existing results CSV (ours or an older version's): a header with our core
    columns. Commands that write other files (export) refuse to replace one."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return set(HEADER_CORE) <= set(_header_of(path, first))


def check_appendable(path: str | os.PathLike[str], flag: str = "--results") -> None:
    """Everything `append_row` would refuse, checked before a command trains or probes anything."""
    path = Path(path)
    check_output_file(path, flag)
    if path.is_file() and path.stat().st_size > 0:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InfominError(f"cannot read {flag} {path} ({exc.strerror}); choose another file") from None
        _appendable_columns(path, data)


def _read_all(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _line(row: Mapping[str, Any], columns: tuple[str, ...]) -> str:
    # written with a "\r\n" terminator so that csv quotes a field holding a lone "\r" (with "\n" it
    # would not, and a reader would split the row there); the line itself ends in "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_format(row.get(c)) for c in columns])
    return buffer.getvalue()[:-2] + "\n"


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InfominError(f"{path} is not a results CSV: byte {exc.start} is not UTF-8 text (a binary or "
                           "foreign file?); use another results file") from None


def _header_of(path: Path, text: str) -> tuple[str, ...]:
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        return tuple(next(csv.reader([first]), []))
    except csv.Error:
        return ()


def _appendable_columns(path: Path, data: bytes) -> tuple[str, ...]:
    """The existing file's columns; refuses (file untouched) a file that is not ours to append to."""
    columns = _header_of(path, _decode(path, data))
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        why = f"its header has column {unknown[0][:40]!r}, unknown to infomin {__version__}"
    elif not columns or len(set(columns)) != len(columns) or not set(HEADER_CORE) <= set(columns):
        why = "its first line is not a results header"
    elif missing := [c for c in CORE_COLUMNS if c not in columns]:
        why = (f"its header lacks column {missing[0]!r}{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}, "
               "which every results file of infomin has (a hand-made or cut-down file?)")
    else:
        return columns
    raise InfominError(f"cannot append to {path}: {why}; write to a new results file (--results/--out)")


def parse_results(path: Path, text: str) -> tuple[tuple[str, ...], list[list[str]]]:
    """Header and whole rows of a results CSV's text. A row with the wrong number of fields (a torn
    write, or a line cut short) is reported on stderr once and left out; a last line without its
    newline is a whole row when its fields are all there."""
    records = csv.reader(io.StringIO(text, newline=""))
    try:
        header = tuple(next(records))
    except StopIteration:
        raise InfominError(f"{path} is empty; it needs a header line with the columns of docs/ARCHITECTURE.md") from None
    except csv.Error as exc:
        raise InfominError(f"{path} is not a readable CSV ({exc}); expected the columns of docs/ARCHITECTURE.md") from None
    if not header or not any(header) or len(set(header)) != len(header):
        raise InfominError(f"{path} has no usable header line (empty or repeated column names); "
                           "expected the columns of docs/ARCHITECTURE.md")
    rows, torn = [], []
    while True:
        line = records.line_num + 1
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error:
            torn.append(line)
            continue
        if not record or record == [""]:  # a blank line
            continue
        if len(record) == len(header):
            rows.append(record)
        else:
            torn.append(line)
    if torn:
        _report_torn(path, torn)
    return header, rows


def _report_torn(path: Path, lines: list[int]) -> None:
    """Once per state of the file: a sweep reads its CSV before every point."""
    try:
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns, lines[0])
    except OSError:
        key = (str(path), -1, -1, lines[0])
    if key in _REPORTED:
        return
    _REPORTED.add(key)
    where = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
    print(f"warning: {path}: line {where} {'is' if len(lines) == 1 else 'are'} incomplete (a torn write?) "
          "and left out", file=sys.stderr)


def read_results(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a results CSV (ours, an older version's, or hand-written); fail in one line if a needed
    column is missing. Known columns the file lacks come back as NaN, in `COLUMNS` order, so old
    files and new ones concatenate; columns we do not know follow them."""
    import pandas as pd
    path = Path(path)
    if path.is_dir():
        raise InfominError(f"results file {path} is a directory; pass a results CSV file")
    if not path.is_file():
        raise InfominError(f"results file {path} does not exist; run `infomin probe` or `infomin sweep` first")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InfominError(f"cannot read results file {path} ({exc.strerror})") from None
    header, records = parse_results(path, _decode(path, data))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # quotes a lone "\r" in a field, as _line does
    writer.writerow(header)
    writer.writerows(records)
    buffer.seek(0)
    try:
        frame = pd.read_csv(buffer, keep_default_na=False, na_values=[""], dtype=str if not records else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise InfominError(f"{path} is not a readable CSV ({reason}); expected the columns of docs/ARCHITECTURE.md") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InfominError(f"{path} has no column {missing[0]!r}; it needs: {', '.join(required)}")
    for column in COLUMNS:
        if column not in frame.columns:  # text columns stay object dtype, so .fillna("") keeps working
            frame[column] = pd.Series(math.nan, index=frame.index, dtype=float if column in NUMERIC else object)
    return frame.reindex(columns=[*COLUMNS, *(c for c in frame.columns if c not in COLUMNS)])


def rows_where(frame: pd.DataFrame, exact: Mapping[str, Any], trusted: Mapping[str, Any] = {}) -> pd.DataFrame:
    """Rows whose `exact` columns hold those values (as text; None: any), and whose `trusted` columns
    hold theirs or are empty (`matching`)."""
    import pandas as pd
    mask = matching(frame, trusted)
    for column, value in exact.items():
        if value is not None:
            mask &= _same(frame[column] if column in frame.columns else pd.Series(math.nan, index=frame.index), value)
    return frame[mask]


def _same(cells: pd.Series, value: Any) -> pd.Series:
    """Cells equal to `value`: numerically for numbers (a CSV reads 10 back as 10.0), else as text."""
    import pandas as pd
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return pd.to_numeric(cells, errors="coerce") == float(value)
    return cells.astype(object).fillna("").astype(str) == str(value)


def matching(frame: pd.DataFrame, expected: Mapping[str, Any]) -> pd.Series:
    """Rows whose columns hold the `expected` values. An empty cell, or a column the file lacks
    (a row written before the column existed), matches anything: such rows are trusted as before."""
    import pandas as pd
    mask = pd.Series(True, index=frame.index)
    for column, value in expected.items():
        if value is None:
            continue
        cells = frame[column] if column in frame.columns else pd.Series(math.nan, index=frame.index)
        unknown = cells.isna() | (cells.astype(str) == "")
        mask &= unknown | _same(cells, value)
    return mask
