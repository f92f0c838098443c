"""Probe tasks are registry entries: listed with their options, chosen by a dataset's capabilities,
and a dataset a task cannot read is refused before anything is loaded or trained."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.data import DATASETS
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.probes import PROBES, default_task


def test_every_registered_probe_is_listed_with_its_options_defaults_datasets_and_section():
    result = CliRunner().invoke(app, ["probes"], terminal_width=250)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for name, task in PROBES.items():
        assert name in text and task.paper.split()[0] in text
        for option in task.options:
            assert option.cli_flag in text and (option.default is None or str(option.default) in text)
        assert any(data in text for data, entry in DATASETS.items() if task.refusal(entry) is None)


def test_the_probe_command_takes_every_option_a_task_declares():
    result = CliRunner().invoke(app, ["probe", "--help"], terminal_width=250)
    flags = {option.cli_flag for _, task in PROBES.items() for option in task.options}
    assert all(flag in result.output for flag in flags), result.output


@pytest.mark.parametrize(("dataset", "streamed", "task"), [
    ("embedded", False, "classification"), ("stl10", False, "classification"), ("moving-mnist", False, "factors"),
    ("imagenet", True, "linear-protocol"), ("imagenet", False, "classification"),
])
def test_a_runs_default_task_comes_from_its_datasets_capabilities(dataset, streamed, task):
    assert default_task(DATASETS.get(dataset), streamed).name == task


@pytest.mark.parametrize(("task", "dataset", "why"), [
    ("segmentation", "moving-mnist", "frame sequences"), ("factors", "embedded", "images, not frame sequences"),
    ("segmentation", "stl10", "no segmentation masks"), ("linear-protocol", "embedded", "held in memory"),
    ("classification", "nyu-depth-v2", "no class labels"),
])
def test_a_task_names_why_it_cannot_read_a_dataset_and_which_datasets_it_can(task, dataset, why):
    with pytest.raises(InfominError, match=why) as refused:
        PROBES.get(task).check_serves(DATASETS.get(dataset), dataset)
    able = [name for name, entry in DATASETS.items() if PROBES.get(task).refusal(entry) is None]
    assert able and refused.value.args[0].endswith(", ".join(able))


def test_a_sweep_whose_task_the_dataset_cannot_serve_stops_before_any_point_trains(tmp_path):
    result = CliRunner().invoke(app, ["sweep", "shared", "digit", "--preset", "moving-mnist", "--probe-task",
                                      "segmentation", "--runs-dir", str(tmp_path / "runs"), "--out",
                                      str(tmp_path / "s.csv"), "--quiet"])
    assert result.exit_code == 2 and "cannot probe dataset 'moving-mnist'" in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "s.csv").exists()


def test_a_task_refuses_an_option_it_does_not_declare():
    with pytest.raises(InfominError, match="--seg-size is not an option of probe task classification"):
        PROBES.get("classification").check({"seg_size": 96})
