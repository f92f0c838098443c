"""`infomin runs` reads a folder of runs from their own files: settings, epochs done of planned,
held-out I_NCE, the run's own probe rows; and says where two runs' configs differ."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.config import RunConfig
from infomin_cli.pipeline import train_run
from infomin_cli.results import append_row

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    base = RunConfig(dataset="tiny", views="lab-split", encoder="convnet", batch_size=32, epochs=1, knn_monitor=False)
    done = train_run(base, root / "runs" / "done", progress=False)
    train_run(base.merged({"objective": "moco", "queue": 64}), root / "runs" / "moco", progress=False)
    config = yaml.safe_load((root / "runs" / "moco" / "config.yaml").read_text())
    (root / "runs" / "moco" / "config.yaml").write_text(yaml.safe_dump({**config, "epochs": 3}))  # 1 of 3 done
    for run_id, value in (("done", 61.5), ("done+random-init", 30.0)):
        append_row(root / "results.csv", {"run_id": run_id, "config_hash": done["config_hash"], "probe_label": "class",
                                          "metric_name": "top1", "metric_value": value})
    return root


def listing(*args):
    result = runner.invoke(app, ["runs", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_run_is_listed_with_epochs_done_of_planned_and_its_held_out_i_nce(folder):
    rows = {row["run"].split("/")[-1]: row for row in listing(folder / "runs", "--results", folder / "results.csv")}
    assert set(rows) == {"done", "moco"}
    assert (rows["done"]["epochs_done"], rows["done"]["epochs"]) == (1, 1)
    assert (rows["moco"]["epochs_done"], rows["moco"]["epochs"]) == (1, 3)
    assert rows["done"]["i_nce"] <= rows["done"]["log_K"] and rows["moco"]["objective"] == "moco"


def test_probe_results_are_the_runs_own_rows_not_its_untrained_baseline(folder):
    rows = {row["run"].split("/")[-1]: row for row in listing(folder / "runs", "--results", folder / "results.csv")}
    assert rows["done"]["probes"] == {"class (top1)": 61.5} and rows["moco"]["probes"] == {}


def test_two_runs_are_compared_field_by_field(folder):
    diffs = {d["field"]: d for d in listing(folder / "runs" / "done", folder / "runs" / "moco")}
    assert set(diffs) == {"objective", "epochs", "moco queue", "moco key_momentum", "moco jigsaw_beta", "moco symmetric",
                          "infonce jigsaw_beta"}
    assert diffs["epochs"][str(folder / "runs" / "moco")] == 3


def test_the_table_says_which_runs_are_unfinished(folder):
    result = runner.invoke(app, ["runs", str(folder / "runs")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "1/3 (unfinished)" in result.output and "1/1 " in result.output
