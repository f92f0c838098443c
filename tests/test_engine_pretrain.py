"""The trainer: writes a resumable run, resumes identically, refuses to clobber, stops on NaN."""

import json

import pytest
import torch

from infomin_cli.engine.pretrain import pretrain
from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.infonce import InfoNCE
from infomin_cli.runs import config_hash, validate


def test_a_run_folder_holds_config_checkpoint_metrics_and_summary(tmp_path, tiny_config):
    from infomin_cli.pipeline import train_run

    summary = train_run(tiny_config, tmp_path / "run", progress=False)
    for name in ("config.yaml", "checkpoint.pt", "metrics.csv", "summary.json"):
        assert (tmp_path / "run" / name).is_file()
    assert summary["K"] == 32 and summary["i_nce"] <= summary["log_K"]  # held-out, from the pipeline
    assert summary["K_train"] == 32 and summary["i_nce_train"] <= summary["log_K_train"]
    resolved = validate(tiny_config)  # knob defaults filled in: the hash every CSV row carries
    assert resolved.knobs and json.loads((tmp_path / "run" / "summary.json").read_text())["config_hash"] == config_hash(resolved)
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 1 + tiny_config.epochs


def test_resume_after_a_crash_continues_identically(tmp_path, tiny_config, crash_after_first_epoch):
    pretrain(tiny_config, tmp_path / "straight", progress=False)
    with crash_after_first_epoch():
        pretrain(tiny_config, tmp_path / "crashed", progress=False)
    pretrain(tiny_config, tmp_path / "crashed", resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=False)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key  # bit for bit


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path, tiny_config):
    pretrain(tiny_config, tmp_path / "run", progress=False)
    with pytest.raises(InfominError, match="--resume"):
        pretrain(tiny_config, tmp_path / "run", progress=False)
    other = tiny_config.merged({"temperature": 0.5})
    with pytest.raises(InfominError, match="different config"):
        pretrain(other, tmp_path / "run", resume=True, progress=False)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny_config):
    calls = {"n": 0}

    class Poisoned(InfoNCE):
        def forward(self, *args):
            calls["n"] += 1
            out = super().forward(*args)
            if calls["n"] > 3:  # epoch 2 (3 steps per epoch)
                out.loss = out.loss * float("nan")
            return out

    OBJECTIVES.add("poisoned", Poisoned)
    try:
        with pytest.raises(TrainingDiverged, match="epoch 2"):
            pretrain(tiny_config.merged({"objective": "poisoned"}), tmp_path / "run", progress=False)
    finally:
        OBJECTIVES._items.pop("poisoned")
    kept = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert kept["epoch"] == 1
    assert all(torch.isfinite(v.float()).all() for v in kept["model"].values())


def test_bad_names_fail_before_any_data_is_read(tmp_path, tiny_config):
    for field, value, listed in (("views", "nope", "lab-split"), ("encoder", "vgg", "convnet"),
                                 ("dataset", "mnist", "stl10"), ("head", "deep", "mlp")):
        with pytest.raises(InfominError, match=listed):
            pretrain(tiny_config.merged({field: value}), tmp_path / field, progress=False)
        assert not (tmp_path / field).exists()


# --- resuming from the folder: its own config.yaml, and what a resume may change -------------------

def _lr_column(folder) -> list[float]:
    import csv

    with open(folder / "metrics.csv") as handle:
        return [float(row["lr"]) for row in csv.DictReader(handle)]


def test_resume_folder_alone_continues_the_run_bit_for_bit(tmp_path, tiny_config, crash_after_first_epoch):
    from typer.testing import CliRunner

    from infomin_cli.cli import app

    config = tiny_config.merged({"epochs": 2, "knn_monitor": False})
    pretrain(config, tmp_path / "whole", progress=False)
    with crash_after_first_epoch():
        pretrain(config, tmp_path / "cut", progress=False)
    result = CliRunner().invoke(app, ["pretrain", "--resume", str(tmp_path / "cut"), "--quiet"])  # no other flag
    assert result.exit_code == 0, result.output
    whole, cut = (torch.load(tmp_path / f / "checkpoint.pt", weights_only=True) for f in ("whole", "cut"))
    assert all(torch.equal(whole["model"][k], cut["model"][k]) for k in whole["model"])


def test_more_epochs_extend_a_finished_run_on_the_longer_cosine(tmp_path, tiny_config):
    """The schedule is re-planned over the new length: from the step where the run stopped it
    follows the cosine of a run planned that long from the start."""
    from typer.testing import CliRunner

    from infomin_cli.cli import app
    from infomin_cli.run_files import read_config

    short = tiny_config.merged({"epochs": 1, "knn_monitor": False})
    pretrain(short, tmp_path / "run", progress=False)
    pretrain(short.merged({"epochs": 3}), tmp_path / "long", progress=False)
    result = CliRunner().invoke(app, ["pretrain", "--resume", str(tmp_path / "run"), "--epochs", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert read_config(tmp_path / "run" / "config.yaml").epochs == 3
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 3
    assert _lr_column(tmp_path / "run")[1:] == pytest.approx(_lr_column(tmp_path / "long")[1:])


def test_a_resume_may_change_how_a_run_is_computed_but_not_what_it_learns():
    from infomin_cli.config import RunConfig, resumed
    from infomin_cli.errors import InfominError

    saved = RunConfig(epochs=4, objective="moco").merged({"queue": 256})
    assert resumed(saved, {"device": "cpu", "precision": "bf16", "workers": 2, "epochs": 6}, 4).epochs == 6
    for given, field in (({"lr": 0.1}, "lr"), ({"queue": 512}, "queue"), ({"views": "ycbcr-split"}, "views")):
        with pytest.raises(InfominError, match=f"differs from the run's own {field}"):
            resumed(saved, given, 4)
    with pytest.raises(InfominError, match="fewer than the 4 the run has trained"):
        resumed(saved, {"epochs": 3}, 4)


def _rows(folder) -> list[dict[str, str]]:
    import csv

    with open(folder / "metrics.csv", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k != "images_per_second"} for row in csv.DictReader(handle)]


class _Killed(BaseException):
    """Stops the loop as a kill would: nothing of ours catches it."""


@pytest.mark.parametrize("epoch", [1, 2])
@pytest.mark.parametrize("boundary", ["trained", "measured", "committed", "logged"])
def test_a_kill_at_any_boundary_of_an_epoch_leaves_it_whole_or_absent(tmp_path, tiny_config, monkeypatch, boundary,
                                                                       epoch):
    from infomin_cli.engine import pretrain as module

    straight = pretrain(tiny_config, tmp_path / "straight", progress=False)

    def stop(name: str, at: int) -> None:
        if (name, at) == (boundary, epoch):
            raise _Killed

    monkeypatch.setattr(module, "at_boundary", stop)
    with pytest.raises(_Killed):
        pretrain(tiny_config, tmp_path / "killed", progress=False)
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    committed = torch.load(checkpoint, weights_only=False) if checkpoint.is_file() else {"epoch": 0}
    assert committed["epoch"] == (epoch if boundary in ("committed", "logged") else epoch - 1)
    if committed["epoch"]:
        assert committed["metrics_row"] == _rows(tmp_path / "straight")[committed["epoch"] - 1] | {
            "images_per_second": committed["metrics_row"]["images_per_second"]}
    assert len(_rows(tmp_path / "killed")) in (committed["epoch"] - 1, committed["epoch"])  # the journal lags by one at most

    monkeypatch.setattr(module, "at_boundary", lambda name, at: None)
    resumed = pretrain(tiny_config, tmp_path / "killed", resume=True, progress=False)
    assert _rows(tmp_path / "killed") == _rows(tmp_path / "straight")  # each epoch once, k-NN included
    for key in ("loss", "i_nce_train", "knn_top1", "epochs"):
        assert resumed[key] == straight[key], key
    assert json.loads((tmp_path / "killed" / "summary.json").read_text())["knn_top1"] == straight["knn_top1"]


def test_a_metrics_row_of_an_epoch_no_checkpoint_holds_is_dropped_on_resume(tmp_path, tiny_config, monkeypatch):
    from infomin_cli.engine import pretrain as module

    pretrain(tiny_config, tmp_path / "straight", progress=False)

    def stop(name: str, at: int) -> None:
        if (name, at) == ("committed", 2):
            raise _Killed

    monkeypatch.setattr(module, "at_boundary", stop)
    with pytest.raises(_Killed):
        pretrain(tiny_config, tmp_path / "killed", progress=False)
    metrics = tmp_path / "killed" / "metrics.csv"
    metrics.write_text(metrics.read_text() + "7,1.0,1.0,32,,1.0,0.1\n")  # a row no checkpoint commits
    monkeypatch.setattr(module, "at_boundary", lambda name, at: None)
    pretrain(tiny_config, tmp_path / "killed", resume=True, progress=False)
    assert _rows(tmp_path / "killed") == _rows(tmp_path / "straight")
