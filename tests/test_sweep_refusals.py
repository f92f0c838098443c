"""A refused sweep leaves nothing behind: every check runs before the first point folder or lock.

One real sweep on the tiny dataset leaves a finished point (and its CSV row) in a runs folder;
each bad rerun over it, which also asks for a point not yet run, must exit 2 with one line and
leave every file byte-identical, with no folder, lock or row added.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

import pytest

from infomin_cli.cli import main

FLAGS = "--dataset tiny --views lab-split --batch-size 32 --epochs 1 --no-knn-monitor --probe-epochs 2 --quiet"


def _sweep(root: Path, values: str, extra: str = "") -> list[str]:
    return ["sweep", "crop-scale", values, *shlex.split(FLAGS), "--runs-dir", str(root / "runs"),
            "--out", str(root / "sweep.csv"), *shlex.split(extra.format(root=root))]


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("refusals")
    with pytest.raises(SystemExit) as exited:
        main(_sweep(root, "0.5"))
    assert exited.value.code in (0, None)
    (root / "afile").write_text("a plain file\n")
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def _other_run_at_the_next_point(root: Path) -> None:
    """The folder the point crop-scale=0.7 will use, holding the finished run of another config."""
    from infomin_cli.config import RunConfig
    from infomin_cli.sweep.plan import plan_points
    from infomin_cli.views import VIEWS

    base = RunConfig(dataset="tiny", views="lab-split", batch_size=32, epochs=1, knn_monitor=False)
    folder = plan_points(base, VIEWS.get("lab-split"), "crop-scale", [0.7], 1, root / "runs")[0].run_dir
    if not folder.exists():
        shutil.copytree(next((root / "runs").glob("crop-scale-0.5-*")), folder)


REFUSALS = [
    ("--dataset stl10 --data-root {root}/nope", "is not a folder"),
    ("--batch-size 128", "--batch-size 128 is larger than the 96 view pairs"),
    ("--label nope", "--label 'nope'"),
    ("--probe-dataset stl10 --probe-data-root {root}/nope", "is not a folder"),
    ("--objective learn-views", "trained by `infomin learn-views`"),
    ("--negatives 100", "--negatives 100 is more than the 64 held-out images"),
    ("--launcher submitit-local --slurm-option mem_gb=abc", "mem_gb='abc' is not a number"),
    ("--launcher submitit-local --slurm-folder {root}/afile/submitit", "--slurm-folder"),
]


@pytest.mark.parametrize(("extra", "says"), REFUSALS, ids=[says for _, says in REFUSALS])
def test_a_refused_sweep_leaves_the_runs_folder_byte_identical(swept, capsys, extra, says):
    before = _snapshot(swept)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(_sweep(swept, "0.5,0.7", extra))
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1 and says in err[0], err
    assert _snapshot(swept) == before


def test_a_point_folder_holding_another_run_is_refused_before_any_point_runs(swept, capsys):
    _other_run_at_the_next_point(swept)
    before = _snapshot(swept)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(_sweep(swept, "0.5,0.7"))
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1 and "holds a run with a different config" in err[0], err
    assert _snapshot(swept) == before
