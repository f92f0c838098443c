"""Properties over many generated inputs (hypothesis): sweep specs and results-CSV round trips.

A sweep spec either gives values every one of which its knob accepts, in the order written, or is
refused with an `InfominError`, whatever the text. A results CSV gives back exactly the rows
appended to it, also when its last line lost its newline; a last line cut short is reported and
left out, the rows before it kept.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infomin_cli.errors import InfominError
from infomin_cli.results.table import COLUMNS, append_row, parse_results, read_results
from infomin_cli.sweep.spec import parse_spec
from infomin_cli.views import VIEWS

CROP = VIEWS.get("infomin-aug").knob("crop-scale")  # float in [0.05, 1]
DISTANCE = VIEWS.get("patches").knob("distance")  # int in [0, 2048]
LEVEL = VIEWS.get("infomin-aug").knob("level")  # a choice
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch):
    """Durability is not what these properties are about; an fsync per generated row is most of their time."""
    monkeypatch.setattr("os.fsync", lambda fd: None)


def _fresh(folder: Path) -> Path:
    """A new file per generated example (hypothesis reuses the test's tmp_path)."""
    return folder / f"{uuid.uuid4().hex}.csv"


def _tidy(value: float) -> float:
    return float(f"{value:.6g}")


in_crop = st.floats(min_value=CROP.low, max_value=CROP.high, allow_nan=False)


@FAST
@given(a=in_crop, b=in_crop, n=st.integers(2, 12), log=st.booleans())
def test_a_range_starts_and_ends_where_written_and_stays_in_the_knobs_range(a, b, n, log):
    values = parse_spec(CROP, f"{a!r}:{b!r}:{n}" + (":log" if log else ""))
    assert values[0] == _tidy(a) and values[-1] == _tidy(b)
    assert all(CROP.low <= v <= CROP.high for v in values)
    assert len(values) == len(set(values)) <= n
    assert values == sorted(values, reverse=a > b)


@FAST
@given(st.lists(st.integers(DISTANCE.low, DISTANCE.high), min_size=1, max_size=8))
def test_a_comma_list_keeps_the_written_order_without_repeats(distances):
    values = parse_spec(DISTANCE, ",".join(map(str, distances)))
    assert values == list(dict.fromkeys(distances))


@FAST
@given(st.lists(st.sampled_from(LEVEL.choices), min_size=1, max_size=6))
def test_choice_knobs_take_names_in_the_written_order(names):
    assert parse_spec(LEVEL, ",".join(names)) == list(dict.fromkeys(names))


@settings(max_examples=200, deadline=None)
@given(knob=st.sampled_from([CROP, DISTANCE, LEVEL]), text=st.text(alphabet="0123456789.:,-eElogin +abc", max_size=20))
def test_any_spec_text_is_values_the_knob_accepts_or_one_line_of_refusal(knob, text):
    try:
        values = parse_spec(knob, text)
    except InfominError as exc:
        assert "\n" not in str(exc)
        return
    assert values and all(knob.parse(v) == v for v in values)


# --- results CSV --------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
ROW = st.fixed_dictionaries({
    "run_id": TEXT, "views": TEXT, "knob_value": TEXT, "probe_label": TEXT,
    "metric_value": st.floats(-1e6, 1e6, allow_nan=False), "seed": st.integers(0, 10**6),
})


def _written(row: dict) -> list[str]:
    """A row as the file holds it: every column, in order, formatted as append_row formats it."""
    from infomin_cli.results.table import _format

    return [_format(row.get(column)) for column in COLUMNS]


@FAST
@given(rows=st.lists(ROW, min_size=1, max_size=5), terminated=st.booleans())
def test_appended_rows_read_back_exactly_with_or_without_the_last_newline(tmp_path, rows, terminated):
    path = _fresh(tmp_path)
    for row in rows:
        append_row(path, row)
    text = path.read_bytes().decode()
    if not terminated:  # a hand-written file whose last line has no newline: still a whole row
        text = text[:-1]
        path.write_bytes(text.encode())
    header, records = parse_results(path, text)
    assert header == COLUMNS and records == [_written(row) for row in rows]


@FAST
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=5))
def test_metric_values_read_back_as_the_numbers_written(tmp_path, values):
    path = _fresh(tmp_path)
    for i, value in enumerate(values):
        append_row(path, {"run_id": f"r{i}", "metric_name": "top1", "metric_value": value})
    frame = read_results(path)
    assert frame["metric_value"].tolist() == pytest.approx([round(v, 6) for v in values], rel=1e-12, abs=1e-12)


@FAST
@given(n=st.integers(1, 4), cut=st.floats(0.0, 0.95))
def test_a_last_line_cut_short_is_reported_and_the_rows_before_it_kept(tmp_path, capsys, n, cut):
    path = _fresh(tmp_path)
    for i in range(n + 1):
        append_row(path, {"run_id": f"run{i}", "metric_name": "top1", "metric_value": 50.0 + i, "seed": i})
    text = path.read_text()
    start = text.rstrip("\n").rfind("\n") + 1
    last_comma = text.rfind(",")
    torn = text[: start + 1 + math.floor(cut * (last_comma - start - 1))]  # loses at least the last separator
    path.write_text(torn)
    capsys.readouterr()
    frame = read_results(path)
    assert frame["run_id"].tolist() == [f"run{i}" for i in range(n)]
    assert f"line {n + 2}" in capsys.readouterr().err
    append_row(path, {"run_id": "after", "metric_name": "top1", "metric_value": 1.0})
    assert read_results(path)["run_id"].tolist()[-1] == "after"  # the next append starts on a line of its own


def test_a_torn_line_is_reported_once_per_file_state(tmp_path, capsys):
    path = _fresh(Path(tmp_path))
    append_row(path, {"run_id": "ok", "metric_name": "top1"})
    with open(path, "a") as handle:
        handle.write("torn,row")
    read_results(path)
    read_results(path)
    assert capsys.readouterr().err.count("incomplete") == 1
