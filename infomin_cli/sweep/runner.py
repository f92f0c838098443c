"""Run a sweep's points, here or in worker processes: each point is claimed under its lock and run
by `point.py`; the points already in the CSV (`done.py`) are only shown.

With several CUDA devices the points run as one subprocess per GPU; `--jobs N` runs N workers that
share the one GPU, or the CPU cores without one;
they share only the CSV, whose appends are already process-safe, so the contract is the same
either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.paths import check_output_dir
from infomin_cli.results.table import check_appendable
from infomin_cli.runtime.threads import per_process
from infomin_cli.sweep import worker
from infomin_cli.sweep.display import SweepDisplay
from infomin_cli.sweep.done import done_hashes, expected_k, job_tasks, point_row, read_frame
from infomin_cli.sweep.functions import DEFAULT_PRETRAIN, DEFAULT_PROBE, registered_by
from infomin_cli.sweep.job import SweepJob, point_to_dict, write_point_file
from infomin_cli.sweep.plan import SweepPoint
from infomin_cli.sweep.point import claim_and_run

WORKER_LOG = "sweep_worker.log"
CPU_SLOT = "cpu"  # a worker slot that is not a GPU (--jobs N): no CUDA device, its share of the cores
SHARED = "@"  # a worker slot on a GPU that --jobs N workers share: "<device id>@<k>"


def preflight(points: Sequence[SweepPoint], job: SweepJob) -> None:
    """Everything that would stop the sweep later, checked before anything is trained or made (no
    point folder, no lock): the CSV is ours to append to; every point still to run has readable run
    files of its own config (a damaged checkpoint of point 12 must not surface after 11 points of
    training); the data loads and serves the points' views and batch; a transfer probe's data loads;
    and no --negatives asks for more held-out keys than there are."""
    from infomin_cli.run_files import CHECKPOINT, CONFIG, RESUME_KEYS, read_checkpoint, read_config

    check_appendable(job.csv, "--out")
    for folder in {p.run_dir.parent for p in points}:
        check_output_dir(folder, "--runs-dir")
    done = done_hashes(job, points)
    todo = [p for p in points if p.config_hash not in done]
    real = job.pretrain == DEFAULT_PRETRAIN  # a stand-in (tests) trains no real run
    for point in todo:
        saved = read_config(point.run_dir / CONFIG) if (point.run_dir / CONFIG).is_file() else None
        if (point.run_dir / CHECKPOINT).is_file() and real:
            read_checkpoint(point.run_dir / CHECKPOINT, RESUME_KEYS)
        expected_k(job, point)  # reads summary.json: a damaged one is named now
        if saved is not None and real and point.value not in job_tasks(job, point)[-1].references:
            from infomin_cli.runs import config_hash

            if config_hash(saved) != point.config_hash:
                raise InfominError(f"{point.run_dir} holds a run with a different config (hash "
                                   f"{config_hash(saved)}); move it away, or use another --runs-dir")
    if not todo or not real:
        return
    from infomin_cli.pipeline import check_runs
    from infomin_cli.runs import load_data

    dataset = check_runs([p.config for p in todo])
    if job.negatives is not None and job.negatives > len(dataset.test):
        raise InfominError(f"--negatives {job.negatives} is more than the {len(dataset.test)} held-out images of "
                           f"{todo[0].config.dataset}; use at most {len(dataset.test)}")
    if job.probe_dataset is not None and job.probe == DEFAULT_PROBE:
        load_data(todo[0].config, job.probe_dataset, job.probe_data_root)


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
    many worker processes instead (`worker_slots`): on the one GPU, which they share, or on the
    CPU, the cores split evenly between them (one torch thread each on 2 cores: two single-thread
    points train faster than one two-thread point).
    """
    if gpus is None:  # an explicit --device cpu or cuda:N keeps the sweep in this process
        gpus = visible_gpus() if points and points[0].config.device in ("auto", "cuda") else []
    gpus = worker_slots(list(gpus), jobs)
    done = done_hashes(job, points)
    todo = [p for p in points if p.config_hash not in done]
    failures: list[str] = []
    with SweepDisplay(title or "finished points", total=len(points), enabled=show) as display:
        for point in points:
            if point.config_hash in done:
                display.point_done(point, point_row(job, point), "(in CSV)")
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
    frame = read_frame(job)
    return [point_row(job, p, frame) for p in points]


def worker_slots(gpus: list[str], jobs: int | None) -> list[str]:
    """One slot per worker process: each of several GPUs; else, with `jobs` > 1, that many workers
    on the one GPU (sharing it: a small model leaves most of an H100 idle, so several points at
    once fill it) or, with none, on the CPU cores."""
    if len(gpus) > 1 or jobs is None or jobs < 2:
        return gpus
    if gpus:
        return [f"{gpus[0]}{SHARED}{k}" for k in range(jobs)]
    return [f"{CPU_SLOT}{k}" for k in range(jobs)]


def worker_env(slot: str, slots: int) -> dict[str, str]:
    """What a worker's environment sets: the device it sees, and its share of the cores when it
    shares a machine with other workers (the data's decoding and the views' CPU work)."""
    device, shared, _ = slot.partition(SHARED)
    on_cpu = slot.startswith(CPU_SLOT)
    env = {"CUDA_VISIBLE_DEVICES": "" if on_cpu else device}
    if on_cpu or shared:  # --threads when given, else the cores this process may use // N
        threads = str(per_process(slots))
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    return env


def visible_gpus() -> list[str]:
    """CUDA device ids to hand out, one point per device (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in listed.split(",") if d.strip()] if listed else []
    return ids[: torch.cuda.device_count()] or [str(i) for i in range(torch.cuda.device_count())]


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
                    row = point_row(job, point)
                    display.point_done(point, row, "" if row else "(running in another process)")
                else:
                    failures.append(f"{point.name}: worker exit {proc.returncode}{_said(point.run_dir / WORKER_LOG)}, "
                                    f"log {point.run_dir / WORKER_LOG}")
            busy = ", ".join(f"{g if g.startswith(CPU_SLOT) else 'gpu ' + g}: {p.name}" for g, p in running.values())
            display.progress.update(display.points_task, stats=busy)
    finally:
        for proc in running:  # interrupted: do not leave orphans training on the GPUs
            proc.kill()
    return failures


def _said(log: Path) -> str:
    """The one line a worker that refused its point wrote last (` (error: ...)`), else nothing."""
    try:
        lines = log.read_bytes().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return f" ({lines[-1][:300]})" if lines and lines[-1].startswith("error: ") else ""


def _spawn(point: SweepPoint, job: SweepJob, gpu: str, slots: int = 1) -> subprocess.Popen:
    point.run_dir.mkdir(parents=True, exist_ok=True)
    spec = point_to_dict(point, job)
    spec["config"]["device"] = "auto"  # the one GPU this worker sees (device is not part of the hash)
    point_file = write_point_file(spec)
    env = {**os.environ, **worker_env(gpu, slots)}
    log = open(point.run_dir / WORKER_LOG, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen([sys.executable, "-m", "infomin_cli.sweep.worker",
                                 *worker.command(str(point_file), registered_by(job))],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()
