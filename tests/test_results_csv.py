"""Results CSV: one header, whole rows only, even with several writers at once."""

import multiprocessing as mp

import pytest

from infomin_cli.errors import InfominError
from infomin_cli.results import COLUMNS, append_row, read_results


def _writer(path, worker, n):
    for i in range(n):
        append_row(path, {"run_id": f"w{worker}-{i}", "metric_name": "top1", "metric_value": i, "views": "a,b \"c\""})


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "r.csv"
    procs = [mp.get_context("fork").Process(target=_writer, args=(path, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    frame = read_results(path)
    assert len(frame) == 200 and frame["run_id"].is_unique
    assert list(frame.columns) == list(COLUMNS)
    assert (frame["views"] == 'a,b "c"').all()


def test_a_torn_last_line_is_ignored_and_the_next_row_starts_clean(tmp_path):
    path = tmp_path / "r.csv"
    append_row(path, {"run_id": "ok"})
    with open(path, "a") as handle:
        handle.write("torn,row,without,newl")
    assert read_results(path)["run_id"].tolist() == ["ok"]
    append_row(path, {"run_id": "next"})
    assert read_results(path)["run_id"].tolist()[-1] == "next"


def test_unknown_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown result columns"):
        append_row(tmp_path / "r.csv", {"not_a_column": 1})


def test_missing_required_column_is_named(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("run_id,metric_value\nx,1\n")
    with pytest.raises(InfominError, match="no column 'i_nce'"):
        read_results(path, required=("run_id", "i_nce"))
