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


OLD_HEADER = ("run_id,config_hash,timestamp,dataset,views,knob_name,knob_value,seed,encoder,head,objective,"
              "temperature,K,loss,i_nce,probe_label,probe_layer,metric_name,metric_value,metric_ci_low,"
              "metric_ci_high,unit,epochs,wall_seconds,infomin_version")


def test_k_train_sits_right_after_k():
    assert COLUMNS[COLUMNS.index("K") + 1] == "K_train"


def test_a_row_appended_to_an_older_file_follows_that_files_header(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(OLD_HEADER + "\nold,h,t,d,v,k,1,0,e,h,infonce,0.1,32,1.0,2.0,class,conv4,top1,50,,,%,2,3,0.1.0\n")
    append_row(path, {"run_id": "new", "K": 1000, "K_train": 32, "i_nce": 3.5, "metric_name": "top1"})
    lines = path.read_text().splitlines()
    assert lines[0] == OLD_HEADER and len(lines) == 3
    assert dict(zip(OLD_HEADER.split(","), lines[2].split(","), strict=True))["K"] == "1000"


def test_an_older_file_reads_with_every_known_column_and_nan_for_the_missing_ones(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(OLD_HEADER + "\nold,h,t,d,v,k,1,0,e,h,infonce,0.1,32,1.0,2.0,class,conv4,top1,50,,,%,2,3,0.1.0\n")
    frame = read_results(path)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["K"].tolist() == [32] and frame["K_train"].isna().all()


def test_a_header_with_an_unknown_column_is_refused_in_one_line_and_the_file_left_as_it_was(tmp_path):
    path = tmp_path / "other.csv"
    path.write_bytes(b"run_id,flux_capacitance\nx,1\n")
    with pytest.raises(InfominError, match=r"other\.csv.*'flux_capacitance'") as info:
        append_row(path, {"run_id": "new"})
    assert "\n" not in str(info.value) and path.read_bytes() == b"run_id,flux_capacitance\nx,1\n"


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00", b"\n\nrun_id\n", b"just some notes without a newline"])
def test_a_file_that_is_not_a_results_csv_is_refused_and_left_byte_identical(tmp_path, content):
    path = tmp_path / "notes.csv"
    path.write_bytes(content)
    with pytest.raises(InfominError, match=r"notes\.csv"):
        append_row(path, {"run_id": "new"})
    assert path.read_bytes() == content


def test_required_columns_are_checked_against_the_file_not_the_filled_in_frame(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("run_id,metric_value\nx,1\n")
    assert read_results(path, required=("run_id",))["i_nce"].isna().all()
    with pytest.raises(InfominError, match="no column 'i_nce'"):
        read_results(path, required=("i_nce",))


# --- results.rows: one builder, one meaning of K ------------------------------------------------

def _run(summary: dict, trained: bool = True, batch_size: int = 32):
    from pathlib import Path
    from types import SimpleNamespace

    from infomin_cli.config import RunConfig

    config = RunConfig(dataset="tiny", views="lab-split", encoder="convnet", batch_size=batch_size,
                       knobs={"crop-scale": 0.3, "space": "lab"})
    return SimpleNamespace(folder=Path("runs/abc"), config=config, summary=summary, trained=trained,
                           epochs_trained=config.epochs if trained else 0)


def test_a_probe_rows_k_is_the_heldout_estimates_k_and_k_train_the_objectives():
    from infomin_cli.results.rows import probe_row

    run = _run({"K": 1000, "K_train": 4096, "i_nce": 4.2, "loss": 1.5, "wall_seconds": 10.0})
    row = probe_row(run, "class", "conv4", 55.0, 2.0)
    assert (row["K"], row["K_train"], row["i_nce"]) == (1000, 4096, 4.2)
    assert row["knob_name"] == "crop-scale" and row["knob_value"] == 0.3 and row["wall_seconds"] == 12.0
    assert set(row) <= set(COLUMNS)


def test_an_older_summary_without_k_train_falls_back_to_the_batch_size():
    from infomin_cli.results.rows import probe_row

    row = probe_row(_run({"K": 32, "i_nce": 3.0}, batch_size=64), "class", "conv4", 50.0, 1.0)
    assert row["K_train"] == 64 and row["K"] == 32


def test_a_random_init_row_has_no_i_nce_and_so_no_k():
    from infomin_cli.results.rows import probe_row

    row = probe_row(_run({"K": 32, "i_nce": 3.0, "loss": 1.0}, trained=False), "class", "conv4", 30.0, 1.0)
    assert row["run_id"] == "abc+random-init" and row["i_nce"] is None and row["K"] is None
    assert row["loss"] is None and row["epochs"] == 0


def test_an_estimate_row_carries_its_own_k_beside_its_i_nce():
    from infomin_cli.mi.report import Estimate
    from infomin_cli.results.rows import estimate_row, run_columns

    estimate = Estimate("infonce", 5.0, 4.9, 5.1, K=2000, n_batches=20, unit="bits")
    row = estimate_row(estimate, run_columns(_run({"K": 32, "i_nce": 3.0})))
    assert row["K"] == 2000 and row["K_train"] == 32 and row["metric_name"] == "mi:infonce"
    assert row["i_nce"] == pytest.approx(5.0 * 0.6931471805599453)  # i_nce is always in nats


def test_i_nce_and_k_are_replaced_together():
    from infomin_cli.results.rows import with_i_nce

    assert with_i_nce({"i_nce": 3.0, "K": 32, "seed": 1}, 6.0, 2000) == {"i_nce": 6.0, "K": 2000, "seed": 1}
    assert with_i_nce({"i_nce": 3.0, "K": 32}, None, 2000) == {"i_nce": None, "K": None}


@pytest.mark.parametrize("drop", ["seed", "config_hash", "i_nce", "probe_label", "unit"])
def test_a_file_missing_a_core_column_is_refused_not_appended_to_as_an_older_file(tmp_path, drop):
    columns = [c for c in OLD_HEADER.split(",") if c != drop]
    path = tmp_path / "cut.csv"
    content = (",".join(columns) + "\n" + ",".join(["x"] * len(columns)) + "\n").encode()
    path.write_bytes(content)
    with pytest.raises(InfominError, match=rf"cannot append to .*cut\.csv: its header lacks column '{drop}'"):
        append_row(path, {"run_id": "new", "metric_name": "top1", "metric_value": 1.0})
    assert path.read_bytes() == content
    assert len(read_results(path)) == 1  # still read, as any hand-made file is


def test_every_committed_results_csv_is_still_appendable_and_readable():
    """The oldest files under docs/ define the core: they lack only the later columns."""
    from pathlib import Path

    from infomin_cli.results.table import check_appendable

    files = sorted((Path(__file__).resolve().parents[1] / "docs").rglob("*.csv"))
    assert len(files) >= 10
    for path in files:
        check_appendable(path)
        assert len(read_results(path)) > 0, path
