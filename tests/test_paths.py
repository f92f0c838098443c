"""Output paths are checked before any work: names the filesystem refuses, places under a file, and
a run folder's files that may be the user's own, each one line, with nothing created or changed."""

from __future__ import annotations

import pytest

from infomin_cli.cli import main
from infomin_cli.errors import InfominError
from infomin_cli.paths import check_output_dir, check_output_file, check_run_folder

RUN = ["--dataset", "tiny", "--batch-size", "32", "--epochs", "1", "--no-knn-monitor", "--quiet"]


@pytest.mark.parametrize("check", [check_output_file, check_output_dir])
def test_a_name_longer_than_the_filesystem_allows_is_one_line(tmp_path, check):
    for path in (tmp_path / ("x" * 300), tmp_path / ("y" * 300) / "inside.csv"):
        with pytest.raises(InfominError, match="300 bytes, longer than the 255 the filesystem allows"):
            check(path, "--out")
    with pytest.raises(InfominError, match="over the 4096"):  # every name short, the whole path too long
        check(tmp_path.joinpath(*["z" * 200] * 25), "--out")
    assert list(tmp_path.iterdir()) == []


def _exit(capsys, *args) -> list[str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1, err
    return err


def test_pretrain_refuses_a_folder_holding_the_users_own_config_and_metrics(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("learning_rate: 3\n")
    (folder / "metrics.csv").write_text("step,accuracy\n1,0.5\n")
    [line] = _exit(capsys, "pretrain", *RUN, "--out", folder)
    assert "already holds config.yaml and metrics.csv" in line and "--resume" in line
    [line] = _exit(capsys, "pretrain", *RUN, "--out", folder, "--resume")  # --resume: it must be this run's
    assert "config.yaml is damaged" in line
    assert (folder / "config.yaml").read_text() == "learning_rate: 3\n"
    assert (folder / "metrics.csv").read_text() == "step,accuracy\n1,0.5\n"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "metrics.csv"]


def test_a_folder_left_before_the_first_checkpoint_restarts_with_resume(tmp_path, tiny_config):
    from infomin_cli.engine.pretrain import pretrain
    from infomin_cli.runs import validate

    config = validate(tiny_config.merged({"epochs": 1, "knn_monitor": False}))
    folder = tmp_path / "run"
    folder.mkdir()
    config.save(folder / "config.yaml")  # what a run killed before its first epoch leaves
    with pytest.raises(InfominError, match="already holds config.yaml"):
        pretrain(config, folder, progress=False)
    assert pretrain(config, folder, resume=True, progress=False)["epochs"] == 1
    with pytest.raises(InfominError, match="different config"):
        pretrain(validate(config.merged({"seed": 1})), tmp_path / "run", resume=True, progress=False)


@pytest.mark.parametrize("command", ["pretrain", "learn-views"])
def test_a_refused_output_folder_is_never_created(tmp_path, capsys, command):
    (tmp_path / "afile").write_text("x\n")
    for out in (tmp_path / "afile" / "run", tmp_path / ("n" * 300), tmp_path / "new" / ("n" * 300)):
        _exit(capsys, command, "--epochs", "1", "--out", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_check_run_folder_accepts_an_empty_or_new_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "photo.png").write_bytes(b"not ours, but no name of ours either")
    for folder in ("empty", "other", "new"):
        check_run_folder(tmp_path / folder, "--out", resume=False)
    assert not (tmp_path / "new").exists()
