"""A sweep point is done when it holds every row its probe task's registry entry wants, made with the
job's settings; that one predicate accepts every CSV the docs commit, so none is probed again."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from infomin_cli.config import RunConfig
from infomin_cli.evaluate.probes import PROBES
from infomin_cli.results.table import append_row, read_results
from infomin_cli.sweep.done import ask_for, is_done, job_tasks, missing_rows, read_frame
from infomin_cli.sweep.job import SweepJob
from infomin_cli.sweep.plan import SweepPoint

DOCS = Path(__file__).resolve().parents[1] / "docs"
CSVS = sorted(DOCS.rglob("*.csv"))


def _points(frame: pd.DataFrame, runs: Path) -> list[SweepPoint]:
    """One point per config hash of a CSV, its summary.json saying the K its rows were measured with."""
    points = []
    for digest, rows in frame.groupby(frame["config_hash"].astype(str), sort=False):
        first = rows.iloc[0]
        folder = runs / digest
        folder.mkdir(parents=True)
        k = pd.to_numeric(rows["K"], errors="coerce").dropna()
        if len(k):
            (folder / "summary.json").write_text(json.dumps({"K": int(k.iloc[-1])}))
        config = RunConfig(dataset=str(first["dataset"]).split("->")[0], views=str(first["views"]))
        points.append(SweepPoint(str(first["knob_name"]), str(first["knob_value"]), int(first["seed"]), config,
                                 digest, folder))
    return points


def _job(csv: Path, frame: pd.DataFrame) -> SweepJob:
    """The job that made a CSV, as its rows say: the task, the label, the probe epochs."""
    tasks = set(frame["probe_task"].dropna().astype(str)) if "probe_task" in frame.columns else set()
    task = "factors" if "factors" in tasks else "segmentation" if (frame["metric_name"] == "miou").any() \
        else "classification"
    top1 = frame[frame["metric_name"] == "top1"]
    epochs = pd.to_numeric(frame.get("probe_epochs", pd.Series(dtype=float)), errors="coerce").dropna()
    return SweepJob(csv=csv, probe_task=task, label=None if task == "factors" or top1.empty
                    else str(top1["probe_label"].iloc[0]), probe_epochs=int(epochs.iloc[0]) if len(epochs) else 100)


@pytest.mark.parametrize("csv", CSVS, ids=[str(p.relative_to(DOCS)) for p in CSVS])
def test_every_committed_csv_holds_every_row_its_points_need(csv, tmp_path):
    frame = read_results(csv)
    job = _job(csv, frame)
    rows = read_frame(job)
    for point in _points(frame, tmp_path / "runs"):
        for task in job_tasks(job, point):
            if task.name == "classification" and job.label is None:  # decoder rows probed on their own (no sweep)
                continue
            assert not missing_rows(rows, job, point, task, ask_for(task, job, point)), (point.name, task.name)


def _sweep(tmp_path: Path, task: str, **settings) -> tuple[SweepJob, SweepPoint]:
    folder = tmp_path / "runs" / "p"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"K": 128}))
    point = SweepPoint("crop-scale", 0.2, 0, RunConfig(dataset="embedded", views="lab-split"), "a" * 16, folder)
    return SweepJob(csv=tmp_path / "s.csv", probe_task=task, label="class", **settings), point


def _append_wanted(job: SweepJob, point: SweepPoint, skip: int | None = None, **changed) -> None:
    """Every row the job's tasks want for the point, as a sweep appends them (one left out: `skip`)."""
    wanted = [(task, key) for task in job_tasks(job, point) for key in task.wanted(ask_for(task, job, point), "embedded")]
    for i, (task, key) in enumerate(wanted):
        if i != skip:
            append_row(job.csv, {"run_id": "p", "config_hash": point.config_hash, "dataset": "embedded",
                                 "probe_label": key.label or "glyph", "probe_layer": key.layer or "conv4",
                                 "probe_task": task.name, "probe_epochs": ask_for(task, job, point).options["epochs"],
                                 "metric_name": key.metric, "metric_value": 50.0, "K": 128, "i_nce": 3.0, **changed})


@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_the_done_predicate_is_the_probe_entrys_wanted_rows(tmp_path, task):
    job, point = _sweep(tmp_path, task)
    wanted = sum(len(t.wanted(ask_for(t, job, point), "embedded")) for t in job_tasks(job, point))
    assert [t.name for t in job_tasks(job, point)] == [*PROBES.get(task).also, task]
    for skip in range(wanted):  # any one wanted row missing: not done
        job.csv.unlink(missing_ok=True)
        _append_wanted(job, point, skip=skip)
        assert not is_done(job, point)
    job.csv.unlink(missing_ok=True)
    _append_wanted(job, point)
    assert is_done(job, point)


@pytest.mark.parametrize("changed", [{"probe_epochs": 7}, {"K": 64}, {"dataset": "embedded->stl10"},
                                     {"probe_task": "linear-protocol"}])
def test_a_row_made_with_other_settings_does_not_count(tmp_path, changed):
    job, point = _sweep(tmp_path, "classification")
    _append_wanted(job, point, **changed)
    assert not is_done(job, point)
