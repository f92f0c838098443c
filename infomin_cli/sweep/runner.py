"""Run a sweep's points: pretrain (resuming) -> held-out I_NCE -> probe -> one appended CSV row each
(plus a segmentation probe's `miou` and `pixel_acc` rows with `--probe-task segmentation`).

Crash safety comes from two facts, not from bookkeeping of our own: the CSV row is appended
atomically and only after the probe, so it *is* the "point complete" marker; and each point trains
in its own folder named by its config hash, so a killed point continues from its last checkpoint.
With several CUDA devices the points run as one subprocess per GPU; they share only the CSV,
whose appends are already process-safe, so the contract is the same either way.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.paths import check_output_dir
from infomin_cli.results.rows import clean, timestamp, with_i_nce
from infomin_cli.results.table import COLUMNS, append_row, check_appendable, matching, read_results
from infomin_cli.sweep.display import SweepDisplay
from infomin_cli.sweep.plan import PROBE_METRIC, REFERENCES, SUPERVISED, UNTRAINED, SweepPoint

# The library functions a point calls; tests and the subprocess worker may name others.
DEFAULT_PRETRAIN = "infomin_cli.pipeline:train_run"  # pretrain -> held-out I_NCE
DEFAULT_PROBE = "infomin_cli.evaluate.probe:probe_run"
DEFAULT_SEG_PROBE = "infomin_cli.evaluate.segmentation:segmentation_probe_run"
SEG_METRIC = "miou"  # a segmentation sweep's point also needs this row (pixel_acc is written with it)
FACTORS_TASK = "factors"  # Moving MNIST: digit, position and background probes of both encoders per point
FACTOR_LAST = ("background", "image")  # the factor probe's last row (label, layer): the point's done marker
EVAL_BATCHES = 20  # held-out query batches behind a --negatives estimate
POINT_FILE, WORKER_LOG, LOCK_FILE = "sweep_point.json", "sweep_worker.log", "sweep.lock"
CPU_SLOT = "cpu"  # a worker slot that is not a GPU (--jobs N): no CUDA device, its share of the cores


@dataclass(frozen=True)
class SweepJob:
    """Where rows go and how each point is probed; shared by every point of one sweep."""

    csv: Path
    label: str = "class"
    probe_epochs: int = 100
    pretrain: str = DEFAULT_PRETRAIN  # "module:function"
    probe: str = DEFAULT_PROBE
    probe_dataset: str | None = None  # a transfer probe (B.1: pretrain on DIV2K, probe STL-10); None: the run's own
    probe_data_root: str | None = None
    negatives: int | None = None  # I_NCE against N held-out keys (K = N) instead of the batch: lifts log K
    probe_task: str = "classification"  # "segmentation": also a decoder probe per point (miou, pixel_acc rows)
    seg_epochs: int | None = None  # decoder epochs (None: the segmentation probe's default)
    seg_probe: str = DEFAULT_SEG_PROBE


def load_function(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_point(point: SweepPoint, job: SweepJob, progress: Any = False) -> dict[str, Any]:
    """One point end to end (pretrain -> held-out estimate -> probe), on data loaded once; returns
    its probe row. Only the rows the CSV lacks are made: a segmentation sweep over a CSV with the
    accuracy rows adds the mIoU rows without re-probing, and a row probed as this job asks but
    estimated with another K (`--negatives` changed) is re-estimated, not re-probed."""
    if point.value == SUPERVISED:
        return _supervised_point(point, job)
    if point.value == UNTRAINED:
        return _untrained_point(point, job)
    pretrain, probe = load_function(job.pretrain), load_function(job.probe)
    summary = dict(pretrain(point.config, point.run_dir, resume=True, progress=progress))
    loaded = None
    if job.pretrain == DEFAULT_PRETRAIN:  # (only then: a stand-in pretrain need not import torch)
        from infomin_cli.pipeline import LOADED_RUN

        loaded = summary.pop(LOADED_RUN, None)
    transfer = {"dataset": job.probe_dataset, "data_root": job.probe_data_root} if job.probe_dataset else {}
    reuse = {"run": loaded} if loaded is not None and not transfer else {}
    if job.probe_task == FACTORS_TASK:
        return _factor_point(point, job, summary, reuse)
    row = _row_of(job, point)
    if not row:
        probed = _row_of(job, point, with_k=False)  # the same probe, estimated against another K
        if probed:
            row = {k: v for k, v in clean(probed).items() if k in COLUMNS} | {"timestamp": timestamp()}
        else:
            row = dict(probe(point.run_dir, label=job.label, results=None, epochs=job.probe_epochs,
                             device=point.config.device, knob=point.knob, **transfer, **reuse))
        # the sweep's own facts win: the CSV must say which point this is even if a probe guesses
        row.update(config_hash=point.config_hash, knob_name=point.knob, knob_value=point.value, seed=point.seed,
                   probe_task="classification", probe_epochs=job.probe_epochs)
        if probed or row.get("i_nce") is None:
            row = with_i_nce(row, summary.get("i_nce"), summary.get("K"))
        if job.negatives:  # the in-batch value sits near log(batch) for easy views; a larger K keeps the x-axis apart
            from infomin_cli.estimate import run_rows

            estimate = run_rows(point.run_dir, job.negatives, EVAL_BATCHES, point.seed, point.config.device,
                                **({"run": loaded} if loaded is not None else {}))[0].estimate
            row = with_i_nce(row, estimate.value, estimate.K)
        append_row(job.csv, row)
    if job.probe_task == "segmentation" and not _row_of(job, point, metric=SEG_METRIC):
        seg_probe = load_function(job.seg_probe)
        for seg_row in seg_probe(point.run_dir, results=None, device=point.config.device, knob=point.knob,
                                 epochs=seg_epochs(job), **transfer, **reuse):
            seg_row = {k: v for k, v in seg_row.items() if k != "skipped"}
            seg_row.update(config_hash=point.config_hash, knob_name=point.knob, knob_value=point.value, seed=point.seed,
                           probe_task="segmentation", probe_epochs=seg_epochs(job))
            # the point's I_NCE with its K, as on the probe row (the x-axis of the mIoU curve)
            append_row(job.csv, clean(with_i_nce(seg_row, clean(row).get("i_nce"), clean(row).get("K"))))
    return row


def _point_facts(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    return {"config_hash": point.config_hash, "knob_name": point.knob, "knob_value": point.value, "seed": point.seed,
            "probe_task": FACTORS_TASK, "probe_epochs": job.probe_epochs}


def _factor_point(point: SweepPoint, job: SweepJob, summary: dict[str, Any], reuse: dict[str, Any]) -> dict[str, Any]:
    """Every factor probe of a trained point (3 tasks x 2 encoders), appended in order: the last
    row is the done marker, so a point killed while appending is probed again (the figure keeps
    the last of repeated rows)."""
    from infomin_cli.evaluate.factors import factor_probe_run

    rows = factor_probe_run(point.run_dir, results=None, epochs=job.probe_epochs, device=point.config.device,
                            knob=point.knob, **reuse)
    for row in rows:
        row = with_i_nce({**row, **_point_facts(point, job)}, summary.get("i_nce"), summary.get("K"))
        append_row(job.csv, clean(row))
    return _row_of(job, point)


def _untrained_point(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    """The reference row of a factors sweep for one seed that nothing trained: the factor probes on
    the seeded initialisation of the architecture (no run folder, no I_NCE)."""
    from infomin_cli.evaluate.factors import factor_probe_run
    from infomin_cli.runs import untrained_run

    run = untrained_run(point.config, point.run_dir, point.config.device)
    for row in factor_probe_run(point.run_dir, epochs=job.probe_epochs, device=point.config.device, knob=point.knob,
                                random_init=True, run=run):
        append_row(job.csv, clean({**row, **_point_facts(point, job)}))
    return _row_of(job, point)


def _supervised_point(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    """The baseline of a factors sweep for one seed: one model per (task, encoder) trained on the
    labels; each row is appended as its model finishes, and a rerun skips the rows already there."""
    from infomin_cli.evaluate.factors import supervised_rows
    from infomin_cli.runs import load_data

    frame = _frame(job)
    missing = [(label, layer) for label, layer in factor_pairs()
               if not _row_of(job, point, frame=frame, label=label, layer=layer)]
    data = load_data(point.config) if missing else None  # once for the seed's models, not once per model
    for label, layer in missing:
        for row in supervised_rows(point.config, label, layer, device=point.config.device, data=data):
            append_row(job.csv, clean({**row, **_point_facts(point, job)}))
    return _row_of(job, point)


def factor_pairs() -> list[tuple[str, str]]:
    from infomin_cli.evaluate.factors import FACTOR_LABELS, FACTOR_LAYERS

    return [(label, layer) for label in FACTOR_LABELS for layer in FACTOR_LAYERS]


def seg_epochs(job: SweepJob) -> int:
    if job.seg_epochs is not None:
        return int(job.seg_epochs)
    from infomin_cli.evaluate.segmentation import SEG_EPOCHS

    return SEG_EPOCHS


def expected_k(job: SweepJob, point: SweepPoint) -> int | None:
    """K behind the I_NCE this job wants on the point's rows: --negatives, else the run's held-out
    in-batch K from its summary (None while the run has none: nothing to compare yet)."""
    if job.negatives:
        return int(job.negatives)
    from infomin_cli.run_files import SUMMARY, read_summary

    return read_summary(point.run_dir / SUMMARY).get("K")


def is_done(job: SweepJob, point: SweepPoint, frame: Any = None) -> bool:
    """The point has every row the job needs, made with the job's settings: the probe row, and the
    mIoU row for a segmentation sweep."""
    frame = _frame(job) if frame is None else frame
    done = bool(_row_of(job, point, frame=frame))
    if done and job.probe_task == "segmentation":
        done = bool(_row_of(job, point, frame=frame, metric=SEG_METRIC))
    return done


def done_hashes(job: SweepJob, points: Sequence[SweepPoint]) -> set[str]:
    frame = _frame(job)
    return {p.config_hash for p in points if is_done(job, p, frame)}


def claim_and_run(point: SweepPoint, job: SweepJob, progress: Any = False,
                  before: Callable[[SweepPoint], None] | None = None) -> tuple[dict[str, Any], str]:
    """Run the point unless another process holds it or its row appeared meanwhile; (row, note).

    `before` runs under the lock first: a cluster job trains the point with torchrun there
    (sweep/cluster.py), and `run_point` then finds the finished checkpoint."""
    with point_lock(point) as mine:
        if not mine:
            return {}, "(running in another process)"
        if is_done(job, point):
            return _row_of(job, point), "(in CSV)"
        if before is not None:
            before(point)
        return run_point(point, job, progress), ""


def preflight(points: Sequence[SweepPoint], job: SweepJob) -> None:
    """What would stop the sweep later, checked before anything is trained: the CSV is ours to
    append to, and every point still to run has readable run files (a damaged checkpoint of point
    12 must not surface after 11 points of training)."""
    from infomin_cli.run_files import CHECKPOINT, CONFIG, RESUME_KEYS, read_checkpoint, read_config

    check_appendable(job.csv, "--out")
    for folder in {p.run_dir.parent for p in points}:
        check_output_dir(folder, "--runs-dir")
    done = done_hashes(job, points)
    for point in points:
        if point.config_hash in done:
            continue
        if (point.run_dir / CONFIG).is_file():
            read_config(point.run_dir / CONFIG)
        if (point.run_dir / CHECKPOINT).is_file() and job.pretrain == DEFAULT_PRETRAIN:
            read_checkpoint(point.run_dir / CHECKPOINT, RESUME_KEYS)
        expected_k(job, point)  # reads summary.json: a damaged one is named now


def run_sweep(
    points: Sequence[SweepPoint],
    job: SweepJob,
    gpus: Sequence[str] | None = None,
    show: bool = True,
    title: str = "",
    jobs: int | None = None,
) -> list[dict[str, Any]]:
    """Run the points the CSV does not already have; returns the rows of every point of the sweep.

    `gpus` (CUDA_VISIBLE_DEVICES values) switches to one subprocess per device; by default that
    happens when more than one CUDA device is visible. `jobs` > 1 without several GPUs runs that
    many CPU worker processes instead, the cores split evenly between them (one torch thread each
    on 2 cores: two single-thread points train faster than one two-thread point).
    """
    if gpus is None:  # an explicit --device cpu or cuda:N keeps the sweep in this process
        gpus = visible_gpus() if points and points[0].config.device in ("auto", "cuda") else []
    gpus = list(gpus)
    if len(gpus) < 2 and jobs is not None and jobs > 1:
        gpus = [f"{CPU_SLOT}{i}" for i in range(jobs)]
    done = done_hashes(job, points)
    todo = [p for p in points if p.config_hash not in done]
    failures: list[str] = []
    with SweepDisplay(title or "finished points", total=len(points), enabled=show) as display:
        for point in points:
            if point.config_hash in done:
                display.point_done(point, _row_of(job, point), "(in CSV)")
        if len(gpus) > 1:
            failures = _run_parallel(todo, job, gpus, display)
        else:
            for point in todo:
                display.progress.update(display.points_task, stats=point.name)
                try:
                    row, note = claim_and_run(point, job, progress=display.progress if show else False)
                except TrainingDiverged as exc:  # this point's own failure: report it, keep the curve going
                    # (any other InfominError is bad input every point would hit: it stops the sweep now)
                    failures.append(f"{point.name}: {exc}")
                    continue
                display.point_done(point, row, note)
    if failures:
        raise InfominError(f"{len(failures)} of {len(points)} points failed ({'; '.join(failures)}); "
                           "rerun the same command to retry them")
    return [_row_of(job, p) for p in points]


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


def visible_gpus() -> list[str]:
    """CUDA device ids to hand out, one point per device (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in listed.split(",") if d.strip()] if listed else []
    return ids[: torch.cuda.device_count()] or [str(i) for i in range(torch.cuda.device_count())]


def _frame(job: SweepJob) -> Any:
    if not job.csv.is_file() or job.csv.stat().st_size == 0:
        return None
    return read_results(job.csv, required=("config_hash", "metric_name"))


def _row_of(job: SweepJob, point: SweepPoint, frame: Any = None, with_k: bool = True,
            metric: str = PROBE_METRIC, label: str | None = None, layer: str | None = None) -> dict[str, Any]:
    """The point's last `metric` row made with the job's settings (probe task and epochs, the
    transfer dataset, and with `with_k` the K of its I_NCE); {} when there is none. A factors
    sweep's point is judged by its last factor row (`label`, `layer`: that one by default)."""
    rows = _frame(job) if frame is None else frame
    if rows is None:
        return {}
    factors = job.probe_task == FACTORS_TASK and metric != SEG_METRIC
    if factors:
        label, layer = (label, layer) if label else FACTOR_LAST
        metric = "px_error" if label == "position" else metric
        rows = rows[rows["probe_layer"].astype(object).fillna("").astype(str) == layer]
    rows = rows[(rows["config_hash"].astype(str) == point.config_hash) & (rows["metric_name"] == metric)]
    if metric == PROBE_METRIC or factors:
        labels = rows["probe_label"].astype(object).fillna("").astype(str)
        if (labels != "").any():  # as completed_hashes: unlabelled rows all count
            rows = rows[labels == (label or job.label)]
    dataset = rows["dataset"].astype(object).fillna("").astype(str)
    transfer = dataset.str.contains("->", regex=False)
    rows = rows[dataset.str.endswith(f"->{job.probe_dataset}") if job.probe_dataset else ~transfer]
    task = "segmentation" if metric == SEG_METRIC else FACTORS_TASK if factors else "classification"
    settings = {"probe_task": task,
                "probe_epochs": seg_epochs(job) if metric == SEG_METRIC else job.probe_epochs,
                "K": expected_k(job, point) if with_k and point.value not in REFERENCES else None}
    rows = rows[matching(rows, settings)]
    return rows.iloc[-1].to_dict() if len(rows) else {}


def _run_parallel(todo: list[SweepPoint], job: SweepJob, gpus: list[str], display: SweepDisplay) -> list[str]:
    """Keep every device busy with one worker process; the parent only schedules and watches."""
    queue, running, failures = list(todo), {}, []
    try:
        while queue or running:
            while queue and len(running) < len(gpus):
                free = next(g for g in gpus if g not in {gpu for gpu, _ in running.values()})
                point = queue.pop(0)
                running[_spawn(point, job, free, len(gpus))] = (free, point)
            time.sleep(0.2)
            for proc in [p for p in running if p.poll() is not None]:
                _, point = running.pop(proc)
                if proc.returncode == 0:
                    row = _row_of(job, point)
                    display.point_done(point, row, "" if row else "(running in another process)")
                else:
                    failures.append(f"{point.name}: worker exit {proc.returncode}, log {point.run_dir / WORKER_LOG}")
            busy = ", ".join(f"{g if g.startswith(CPU_SLOT) else 'gpu ' + g}: {p.name}" for g, p in running.values())
            display.progress.update(display.points_task, stats=busy)
    finally:
        for proc in running:  # interrupted: do not leave orphans training on the GPUs
            proc.kill()
    return failures


def _spawn(point: SweepPoint, job: SweepJob, gpu: str, slots: int = 1) -> subprocess.Popen:
    point.run_dir.mkdir(parents=True, exist_ok=True)
    spec = point_to_dict(point, job)
    spec["config"]["device"] = "auto"  # the one GPU this worker sees (device is not part of the hash)
    (point.run_dir / POINT_FILE).write_text(json.dumps(spec, default=str))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    if gpu.startswith(CPU_SLOT):  # --jobs N on CPUs: no GPU, and an even share of the cores (at least one thread)
        threads = max(1, (os.cpu_count() or 1) // slots)
        env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log = open(point.run_dir / WORKER_LOG, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen([sys.executable, "-m", "infomin_cli.sweep.worker", str(point.run_dir / POINT_FILE)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def point_to_dict(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    """Everything a separate process needs to run one point, as plain JSON-able data."""
    return {
        "knob": point.knob, "value": point.value, "seed": point.seed, "config": point.config.to_dict(),
        "config_hash": point.config_hash, "run_dir": str(point.run_dir),
        "job": {**job.__dict__, "csv": str(job.csv)},
    }


def point_from_file(path: str | os.PathLike[str]) -> tuple[SweepPoint, SweepJob]:
    """The worker's side of `_spawn`: the point file back into a point and its job."""
    return point_from_dict(json.loads(Path(path).read_text()))


def point_from_dict(spec: dict[str, Any]) -> tuple[SweepPoint, SweepJob]:
    config = RunConfig.from_dict(spec["config"])
    job = SweepJob(**{**spec["job"], "csv": Path(spec["job"]["csv"])})
    point = SweepPoint(spec["knob"], spec["value"], spec["seed"], config, spec["config_hash"], Path(spec["run_dir"]))
    return point, job
