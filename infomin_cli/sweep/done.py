"""When a sweep point is done: the one predicate, read from the probe tasks' registry entries.

A point's rows are appended atomically and only after its probe, so the CSV *is* the record of
what is finished. The job's probe task (and the tasks it brings along: a segmentation sweep keeps
the linear probe's row too) says which rows a point must hold (`ProbeTask.wanted`); a row counts
when it was made with this job's settings: the task and its epochs, the transfer dataset, and the
K of its I_NCE (`--negatives`, else the run's held-out K). Cells written before a column existed
are trusted (`results.table.matching`), so older CSVs are not probed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infomin_cli.evaluate.probes import PROBES, ProbeAsk, ProbeTask, RowKey, default_task
from infomin_cli.results.table import matching, read_results
from infomin_cli.sweep.job import SweepJob
from infomin_cli.sweep.plan import SweepPoint

Frame = Any  # the CSV as read_results gives it, or None before it exists


def job_tasks(job: SweepJob, point: SweepPoint) -> list[ProbeTask]:
    """The tasks whose rows a point of this job holds, in the order they are made (the job's own last)."""
    if job.probe_task is not None:
        task = PROBES.get(job.probe_task)
    else:
        from infomin_cli.data import DATASETS

        task = default_task(DATASETS.get(probed_dataset(job, point)))
    return [*(PROBES.get(name) for name in task.also), task]


def probed_dataset(job: SweepJob, point: SweepPoint) -> str:
    return job.probe_dataset or point.config.dataset


def ask_for(task: ProbeTask, job: SweepJob, point: SweepPoint) -> ProbeAsk:
    """What the job asks of `task` at `point`: its options from the sweep's settings, checked."""
    settings = vars(job)
    given = {option: settings[field] for field, option in task.sweep_options.items() if settings[field] is not None}
    transfer = {"dataset": job.probe_dataset, "data_root": job.probe_data_root} if job.probe_dataset else {}
    return ProbeAsk(task.check(given), labels=(job.label,) if job.label else (), knob=point.knob,
                    device=point.config.device, **transfer)


def read_frame(job: SweepJob) -> Frame:
    if not job.csv.is_file() or job.csv.stat().st_size == 0:
        return None
    return read_results(job.csv, required=("config_hash", "metric_name"))


def expected_k(job: SweepJob, point: SweepPoint) -> int | None:
    """K behind the I_NCE this job wants on the point's rows: --negatives, else the run's held-out
    in-batch K from its summary (None while the run has none: nothing to compare yet)."""
    if job.negatives:
        return int(job.negatives)
    from infomin_cli.run_files import SUMMARY, read_summary

    return read_summary(point.run_dir / SUMMARY).get("K")


def find_row(frame: Frame, job: SweepJob, point: SweepPoint, task: ProbeTask, ask: ProbeAsk, key: RowKey,
             with_k: bool = True) -> dict[str, Any]:
    """The point's last row for `key` made by `task` with the job's settings ({} when there is none);
    without `with_k`, whatever K its I_NCE was measured against."""
    if frame is None:
        return {}
    rows = frame[(frame["config_hash"].astype(str) == point.config_hash) & (frame["metric_name"] == key.metric)]
    if key.layer is not None:
        rows = rows[rows["probe_layer"].astype(object).fillna("").astype(str) == key.layer]
    if key.label is not None:
        labels = rows["probe_label"].astype(object).fillna("").astype(str)
        if (labels != "").any():  # a hand-written CSV without labels: every row of the metric counts
            rows = rows[labels == key.label]
    dataset = rows["dataset"].astype(object).fillna("").astype(str)
    rows = rows[dataset.str.endswith(f"->{job.probe_dataset}") if job.probe_dataset
                else ~dataset.str.contains("->", regex=False)]
    reference = point.value in task.references
    settings = {"probe_task": task.name, "probe_epochs": ask.options.get("epochs"),
                "K": expected_k(job, point) if with_k and not reference else None}
    rows = rows[matching(rows, settings)]
    return rows.iloc[-1].to_dict() if len(rows) else {}


def missing_rows(frame: Frame, job: SweepJob, point: SweepPoint, task: ProbeTask, ask: ProbeAsk,
                 with_k: bool = True) -> list[RowKey]:
    return [key for key in task.wanted(ask, probed_dataset(job, point))
            if not find_row(frame, job, point, task, ask, key, with_k)]


def is_done(job: SweepJob, point: SweepPoint, frame: Frame = None) -> bool:
    """The point holds every row each of its tasks wants, made with the job's settings."""
    frame = read_frame(job) if frame is None else frame
    return all(not missing_rows(frame, job, point, task, ask_for(task, job, point))
               for task in job_tasks(job, point))


def done_hashes(job: SweepJob, points: Sequence[SweepPoint]) -> set[str]:
    frame = read_frame(job)
    return {p.config_hash for p in points if is_done(job, p, frame)}


def point_row(job: SweepJob, point: SweepPoint, frame: Frame = None) -> dict[str, Any]:
    """The row that stands for a point in the sweep's display: the first task's last wanted row."""
    frame = read_frame(job) if frame is None else frame
    task = job_tasks(job, point)[0]
    ask = ask_for(task, job, point)
    return find_row(frame, job, point, task, ask, task.wanted(ask, probed_dataset(job, point))[-1])
