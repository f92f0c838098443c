"""One sweep point, under its lock: pretrain (resuming) -> held-out I_NCE -> each probe task's missing rows.

Crash safety comes from two facts, not from bookkeeping of our own: rows are appended atomically
and only after their probe, so they *are* the "point complete" marker (`done.py`); and each point
trains in its own folder named by its config hash, so a killed point continues from its last
checkpoint. Only the rows the CSV lacks are made: a segmentation sweep over a CSV with the
accuracy rows adds the mIoU rows without re-probing, and rows probed as the job asks but
estimated against another K (`--negatives` changed) are re-estimated, not re-probed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from infomin_cli.evaluate.probes import ProbeAsk, ProbeTask
from infomin_cli.results.rows import clean, sweep_row, timestamp
from infomin_cli.results.table import COLUMNS, append_row
from infomin_cli.sweep.done import (
    ask_for,
    find_row,
    is_done,
    job_tasks,
    missing_rows,
    point_row,
    probed_dataset,
    read_frame,
)
from infomin_cli.sweep.functions import DEFAULT_PRETRAIN, PRETRAINS, PROBERS
from infomin_cli.sweep.job import SweepJob
from infomin_cli.sweep.plan import SweepPoint

EVAL_BATCHES = 20  # held-out query batches behind a --negatives estimate
LOCK_FILE = "sweep.lock"


class PointRows:
    """Appends a point's rows, each stamped with the sweep's own facts (the CSV must say which point
    a row is even if a probe guesses) and with the point's I_NCE and its K, settled once: a row of
    the point already in the CSV with the job's K carries it, else `--negatives` held-out keys
    estimate it, else the run's summary says it."""

    def __init__(self, point: SweepPoint, job: SweepJob, summary: dict[str, Any] | None, run: Any = None,
                 frame: Any = None) -> None:
        self.point, self.job, self.summary, self.run, self.frame = point, job, summary, run, frame
        self.i_nce: tuple[Any, Any] | None = None

    def point_i_nce(self) -> tuple[Any, Any]:
        if self.i_nce is None:
            had = point_row(self.job, self.point, self.frame)
            if had.get("i_nce") is not None and had.get("K") is not None:
                self.i_nce = (had["i_nce"], had["K"])
            elif self.job.negatives:  # the in-batch value sits near log(batch) for easy views; more keys lift log K
                from infomin_cli.estimation import run_rows

                estimate = run_rows(self.point.run_dir, self.job.negatives, EVAL_BATCHES, self.point.seed,
                                    self.point.config.device, **({"run": self.run} if self.run is not None else {})
                                    )[0].estimate
                self.i_nce = (estimate.value, estimate.K)
            else:
                self.i_nce = (self.summary.get("i_nce"), self.summary.get("K"))
        return self.i_nce

    def emitter(self, task: ProbeTask, ask: ProbeAsk) -> Callable[[dict[str, Any]], None]:
        def emit(row: dict[str, Any]) -> None:
            i_nce, k = self.point_i_nce() if self.summary is not None else (row.get("i_nce"), row.get("K"))
            append_row(self.job.csv, sweep_row(row, self.point.config_hash, self.point.knob, self.point.value,
                                               self.point.seed, task.name, ask.options.get("epochs"), i_nce, k))

        return emit


def run_point(point: SweepPoint, job: SweepJob, progress: Any = False) -> dict[str, Any]:
    """One point end to end, on data loaded once; returns the row that stands for it."""
    frame = read_frame(job)
    tasks = job_tasks(job, point)
    if point.value in tasks[-1].references:  # a per-seed reference: no training, no I_NCE
        task = tasks[-1]
        ask = ask_for(task, job, point)
        emit = PointRows(point, job, None).emitter(task, ask)
        task.reference(str(point.value), point.config, point.run_dir, replace(ask, emit=emit),
                       missing_rows(frame, job, point, task, ask))
        return point_row(job, point)
    summary = dict(PRETRAINS.get(job.pretrain)(point.config, point.run_dir, resume=True, progress=progress))
    run = None
    if job.pretrain == DEFAULT_PRETRAIN:  # (only then: a stand-in pretrain need not import torch)
        from infomin_cli.pipeline import LOADED_RUN

        run = summary.pop(LOADED_RUN, None)
    out = PointRows(point, job, summary, run, frame)
    for task in tasks:
        ask = ask_for(task, job, point)
        if not missing_rows(frame, job, point, task, ask):
            continue
        probed = [find_row(frame, job, point, task, ask, key, with_k=False)
                  for key in task.wanted(ask, probed_dataset(job, point))]
        emit = out.emitter(task, ask)
        if all(probed):  # the same probe, estimated against another K: its rows again, with this K
            for row in probed:
                emit({k: v for k, v in clean(row).items() if k in COLUMNS} | {"timestamp": timestamp()})
            continue
        reuse = run if ask.dataset is None else None  # a transfer probe reads another dataset
        PROBERS.get(job.probe)(task, point.run_dir, replace(ask, emit=emit), reuse)
    return point_row(job, point)


def claim_and_run(point: SweepPoint, job: SweepJob, progress: Any = False,
                  before: Callable[[SweepPoint], None] | None = None) -> tuple[dict[str, Any], str]:
    """Run the point unless another process holds it or its rows appeared meanwhile; (row, note).

    `before` runs under the lock first: a cluster job trains the point with torchrun there
    (sweep/cluster.py), and `run_point` then finds the finished checkpoint."""
    with point_lock(point) as mine:
        if not mine:
            return {}, "(running in another process)"
        if is_done(job, point):
            return point_row(job, point), "(in CSV)"
        if before is not None:
            before(point)
        return run_point(point, job, progress), ""


@contextlib.contextmanager
def point_lock(point: SweepPoint) -> Iterator[bool]:
    """An exclusive, non-blocking lock on the point's run folder: True if this process may run it.

    Two sweeps started over the same CSV (or one per machine on a shared disk) then split the
    points instead of training the same folder twice; the kernel drops the lock if we are killed.
    """
    point.run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(point.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
