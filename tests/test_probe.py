"""The probe: frozen features -> linear classifier -> one self-describing CSV row per label."""

import pytest

from infomin_cli.errors import InfominError
from infomin_cli.evaluate.linear import train_linear_probe
from infomin_cli.evaluate.probe import probe_run
from infomin_cli.pipeline import train_run as pretrain
from infomin_cli.results import read_results
from infomin_cli.runs import config_hash, validate


def test_linear_probe_separates_linearly_separable_features():
    import torch

    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    x = torch.nn.functional.one_hot(y, 4).float() * 3 + torch.randn(200, 4, generator=g) * 0.3
    assert train_linear_probe(x[:150], y[:150], x[150:], y[150:], epochs=100) == 100.0


def test_probe_rows_describe_the_run(tmp_path, tiny_config):
    pretrain(tiny_config, tmp_path / "run", progress=False)
    csv = tmp_path / "results.csv"
    row = probe_run(tmp_path / "run", "class", results=csv, epochs=5)
    probe_run(tmp_path / "run", "colour", results=csv, epochs=5)
    probe_run(tmp_path / "run", "class", random_init=True, results=csv, epochs=5)
    frame = read_results(csv)
    assert frame["probe_label"].tolist() == ["class", "colour", "class"]
    assert frame["run_id"].tolist()[-1] == "run+random-init"
    assert 0 <= row["metric_value"] <= 100 and row["K"] == 32 and row["K_train"] == 32 and row["i_nce"] is not None and row["config_hash"] == config_hash(validate(tiny_config))
    assert row["knob_name"] == "crop-scale" and row["probe_layer"] == "conv4"


def test_unknown_label_or_layer_lists_the_valid_ones(tmp_path, tiny_config):
    pretrain(tiny_config, tmp_path / "run", progress=False)
    with pytest.raises(InfominError, match="class, colour"):
        probe_run(tmp_path / "run", "digit", results=None)
    with pytest.raises(InfominError, match="conv1"):
        probe_run(tmp_path / "run", "class", layer="fc9", results=None)


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(InfominError, match="not a run folder"):
        probe_run(tmp_path, results=None)


def test_probing_the_same_run_twice_adds_no_duplicate_row(tmp_path, tiny_config):
    from typer.testing import CliRunner

    from infomin_cli.cli import app

    pretrain(tiny_config.merged({"epochs": 1, "knn_monitor": False}), tmp_path / "run", progress=False)
    runner = CliRunner()

    def probe(*more):
        result = runner.invoke(app, ["probe", str(tmp_path / "run"), "--label", "class", "--results",
                                     str(tmp_path / "r.csv"), *more])
        assert result.exit_code == 0, result.output
        return result.output

    probe("--epochs", "2")
    assert "already in the CSV: not redone" in probe("--epochs", "2")
    assert len(read_results(tmp_path / "r.csv")) == 1
    probe("--epochs", "3")  # other settings: a new row
    probe("--epochs", "2", "--random-init")  # the untrained baseline is another row too
    assert len(read_results(tmp_path / "r.csv")) == 3


def test_a_probe_of_an_unfinished_run_warns_and_records_the_epochs_trained(tmp_path, tiny_config, crash_after_first_epoch):
    from typer.testing import CliRunner

    from infomin_cli.cli import app
    from infomin_cli.engine.pretrain import pretrain

    with crash_after_first_epoch():
        pretrain(tiny_config.merged({"epochs": 3, "knn_monitor": False}), tmp_path / "run", progress=False)
    result = CliRunner().invoke(app, ["probe", str(tmp_path / "run"), "--epochs", "2", "--results", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert f"warning: {tmp_path / 'run'} has trained 1 of its 3 epochs" in result.output
    assert read_results(tmp_path / "r.csv")["epochs"].tolist() == [1]
