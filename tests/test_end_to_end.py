"""The CLI end to end: pretrain -> probe -> CSV, on the embedded default and on STL-10 files."""

import json

from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.results import read_results
from tests.test_data_stl10 import write_stl10

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_embedded_default_pretrain_then_probe(tmp_path):
    out = invoke("pretrain", "--limit", 256, "--epochs", 1, "--batch-size", 64, "--out", tmp_path / "run", "--quiet",
                 "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["i_nce"] <= summary["log_K"]
    invoke("probe", tmp_path / "run", "--label", "class", "--label", "background", "--epochs", 3,
           "--results", tmp_path / "r.csv")
    frame = read_results(tmp_path / "r.csv")
    assert frame["probe_label"].tolist() == ["class", "background"] and (frame["dataset"] == "embedded").all()


def test_cmc_colour_splits_train_on_stl10_files(tmp_path):
    write_stl10(tmp_path / "stl", n_train=24, n_test=16, n_unlabeled=24)
    for views in ("lab-split", "ycbcr-split"):
        invoke("pretrain", "--dataset", "stl10", "--data-root", tmp_path / "stl", "--views", views,
               "--encoder", "alexnet-half", "--image-size", 64, "--batch-size", 16, "--epochs", 1,
               "--optimizer", "sgd", "--lr", 0.03, "--out", tmp_path / views, "--quiet")
        invoke("probe", tmp_path / views, "--epochs", 2, "--results", tmp_path / "r.csv")
    frame = read_results(tmp_path / "r.csv")
    assert frame["views"].tolist() == ["lab-split", "ycbcr-split"]
    assert (frame["probe_layer"] == "conv5").all() and (frame["K"] == 16).all()


def test_pretrain_ends_with_human_lines_naming_the_run_and_the_next_command(tmp_path):
    out = invoke("pretrain", "--limit", 128, "--epochs", 1, "--batch-size", 64, "--out", tmp_path / "run", "--quiet")
    lines = out.strip().splitlines()[-4:]
    assert lines[0].startswith(f"run     {tmp_path / 'run'}") and "I_NCE" in lines[1] and "of log K = 4.16" in lines[1]
    assert lines[-1].startswith(f"next    infomin probe {tmp_path / 'run'}")
    assert "{" not in out  # no JSON unless asked (--json)
