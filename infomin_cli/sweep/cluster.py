"""Sweep points as cluster jobs, through submitit (the launcher DINO and VISSL use).

Each point not yet in the CSV becomes one job that runs `claim_and_run` (sweep/point.py): the
same per-point lock, the same CSV row appended after the probe, the same run folder named by the
config hash. So the contract is the local one, with the run folders and the CSV on a filesystem
every node sees; `flock` there is what keeps two jobs (or a rerun sweep) from training one point
twice.

- `--gpus-per-point N` (N > 1): the job holds the point's lock and runs
  `torchrun --standalone --nproc_per_node N -m infomin_cli.sweep.worker --pretrain-only POINT.json`,
  so the point trains on N GPUs of one node (runtime/distributed.py); the held-out estimate and the
  probe then run in the job itself, on one GPU.
- Pre-emption (and the end of --slurm-time): SLURM signals the job; submitit calls
  `PointJob.checkpoint`, which stops the torchrun child and hands back the same job to requeue.
  Training state needs no saving there: the trainer writes an atomic checkpoint after every
  epoch, and the requeued job resumes from it (losing at most the epoch in progress).
- A job killed outright (no signal) is reported as failed; rerunning the sweep submits the
  point again, and it resumes from its checkpoint the same way.

`--launcher submitit-local` runs the same jobs on this machine through submitit's LocalExecutor:
the way to try a cluster sweep, and what the tests drive. It starts every job at once, each seeing
GPUs 0..N-1, so it is for trying the path, not for throughput (`--launcher local` schedules GPUs).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infomin_cli.errors import InfominError
from infomin_cli.paths import check_output_dir
from infomin_cli.sweep import worker
from infomin_cli.sweep.display import SweepDisplay
from infomin_cli.sweep.done import done_hashes, point_row
from infomin_cli.sweep.functions import import_registrations, registered_by
from infomin_cli.sweep.job import SweepJob, point_from_dict, point_to_dict, write_point_file
from infomin_cli.sweep.plan import SweepPoint
from infomin_cli.sweep.point import claim_and_run
from infomin_cli.sweep.runner import visible_gpus

LAUNCHERS = ("local", "slurm", "submitit-local")
SUBMITIT_DIR = "submitit"  # under --runs-dir unless --slurm-folder says otherwise
TORCHRUN_LOG = "torchrun.log"
CPUS_PER_GPU = 8  # DataLoader workers and view threads per GPU; --slurm-option cpus_per_task=... overrides
POLL_SECONDS = 0.5  # submitit itself rate-limits its sacct calls
_TIME = re.compile(r"^(?:(?:(\d+)-)?(\d+):)?(\d+):(\d+)$")

# submitit's typed parameters that `--slurm-option KEY=VALUE` may set: KEY -> (type, bound): a
# whole number at least the bound, a float above it.
# The types are submitit's own (`AutoExecutor._typed_parameters`, and the annotations of
# `submitit.slurm.slurm._make_sbatch_string`; tests/test_sweep_cluster.py reads them from the
# installed package); AutoExecutor's names go as they are, SLURM's own with submitit's `slurm_` prefix.
TYPED_OPTIONS: dict[str, tuple[type, float]] = {
    "mem_gb": (float, 0.0), "cpus_per_task": (int, 1), "stderr_to_stdout": (bool, 0), "cpus_per_gpu": (int, 1),
    "gpus_per_task": (int, 1), "signal_delay_s": (int, 0), "array_parallelism": (int, 1), "use_srun": (bool, 0)}
GENERIC_OPTIONS = ("mem_gb", "cpus_per_task", "stderr_to_stdout")  # AutoExecutor's own names
# what the sweep sets itself: a --slurm-option for it would contradict the flag, or the one-node launch
SET_BY_SWEEP = {"timeout_min": "--slurm-time", "time": "--slurm-time", "partition": "--slurm-partition",
                "account": "--slurm-account", "qos": "--slurm-qos", "gpus_per_node": "--gpus-per-point",
                "num_gpus": "--gpus-per-point", "nodes": "", "tasks_per_node": "", "ntasks_per_node": ""}
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class Launch:
    """How a sweep's points are run: here (local), or as jobs (slurm, submitit-local)."""

    launcher: str = "local"
    gpus_per_point: int = 1
    partition: str | None = None
    time_min: int = 24 * 60
    account: str | None = None
    qos: str | None = None
    folder: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)  # further sbatch options, as submitit names them
    wait: bool = True


def parse_time(text: str) -> int:
    """SLURM's time forms (MINUTES, HH:MM:SS, D-HH:MM:SS, MM:SS) -> whole minutes."""
    text = text.strip()
    if text.isdigit():
        minutes = int(text)
    else:
        match = _TIME.match(text)
        if not match:
            raise InfominError(f"--slurm-time {text!r} is not a time; give minutes (e.g. 1440) or D-HH:MM:SS "
                               "(e.g. 2-00:00:00)")
        days, hours, mins, secs = match.groups()
        if hours is None:  # MM:SS
            hours, mins, secs = "0", mins, secs
        minutes = int(days or 0) * 1440 + int(hours) * 60 + int(mins) + (int(secs) > 0)
    if minutes < 1:
        raise InfominError(f"--slurm-time {text!r} must be at least one minute")
    return minutes


def slurm_option(key: str, value: str) -> Any:
    """A `--slurm-option` value as submitit wants it: a typed parameter converted and checked, any
    other sbatch option kept as text; one line for a value of the wrong type or an option the sweep sets."""
    if key in SET_BY_SWEEP:
        flag = SET_BY_SWEEP[key]
        raise InfominError(f"--slurm-option {key} is set by the sweep; " + (
            f"use {flag}" if flag else "each point runs as one task on one node (torchrun --standalone); leave it out"))
    if key not in TYPED_OPTIONS:
        return value
    kind, least = TYPED_OPTIONS[key]
    text = value.strip().lower()
    if kind is bool:
        if text not in TRUE + FALSE:
            raise InfominError(f"--slurm-option {key}={value!r} is not true or false; e.g. {key}=true")
        return text in TRUE
    try:
        number = kind(text)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or (number <= least if kind is float else number < least):
        what = f"a number above {least:g}" if kind is float else f"a whole number of at least {least:g}"
        raise InfominError(f"--slurm-option {key}={value!r} is not {what}; e.g. {key}={'200' if key == 'mem_gb' else 8}")
    return number


def make_launch(launcher: str, gpus_per_point: int | None, partition: str | None, time: str | None,
                account: str | None, qos: str | None, folder: Path | None, options: list[str] | None,
                wait: bool) -> Launch:
    """Check the launcher options together, before any data is read: each problem in one line."""
    if launcher not in LAUNCHERS:
        raise InfominError(f"--launcher {launcher!r} is not valid; choose {', '.join(LAUNCHERS)}")
    gpus = 1 if gpus_per_point is None else gpus_per_point  # its range is checked by the CLI (ranges.py)
    slurm_given = [name for name, value in (("--slurm-partition", partition), ("--slurm-time", time),
                                            ("--slurm-account", account), ("--slurm-qos", qos),
                                            ("--slurm-folder", folder), ("--slurm-option", options)) if value]
    if launcher == "local":
        if gpus > 1:
            raise InfominError(f"--gpus-per-point {gpus} needs --launcher slurm (or submitit-local); the local "
                               "launcher gives each point one GPU")
        if slurm_given:
            raise InfominError(f"{slurm_given[0]} needs --launcher slurm; the local launcher runs points here")
    extra: dict[str, Any] = {}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
            raise InfominError(f"--slurm-option {item!r} is not KEY=VALUE; e.g. --slurm-option constraint=h100")
        key = key.replace("-", "_")
        if key in extra:
            raise InfominError(f"--slurm-option {key} is given twice; keep one")
        extra[key] = slurm_option(key, value)
    for name, value in (("--slurm-partition", partition), ("--slurm-account", account), ("--slurm-qos", qos)):
        if value is not None and not re.fullmatch(r"[\w.,+-]+", value):
            raise InfominError(f"{name} {value!r} is not a SLURM name (letters, digits, . , _ + -)")
    if folder is not None:
        check_output_dir(folder, "--slurm-folder")
    if launcher == "slurm" and shutil.which("srun") is None:
        raise InfominError("--launcher slurm needs SLURM (no srun on PATH); run the sweep on the cluster's login "
                           "node, or try it here with --launcher submitit-local")
    return Launch(launcher, gpus, partition, parse_time(time) if time else Launch.time_min, account, qos,
                  Path(folder) if folder else None, extra, wait)


class PointJob:
    """One point as a submitit job: picklable (plain data only), callable, and checkpointable.

    `modules`: those whose import registered the job's functions (`sweep.functions.registered_by`)."""

    def __init__(self, spec: dict[str, Any], gpus: int, modules: list[str] | None = None) -> None:
        self.spec, self.gpus, self.modules = spec, gpus, list(modules or [])
        self._child: subprocess.Popen | None = None

    def __call__(self) -> dict[str, Any]:
        import_registrations(self.modules)
        point, job = point_from_dict(self.spec)
        before = self._train_on_gpus if self.gpus > 1 else None
        row, note = claim_and_run(point, job, progress=False, before=before)
        print(f"{point.name}: i_nce {row.get('i_nce')} top1 {row.get('metric_value')} {note}", flush=True)
        return {"note": note}  # the row itself is in the CSV

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Pre-empted or out of time: stop the torchrun child, requeue the same point. It resumes
        from the run folder's last epoch checkpoint."""
        import submitit

        self._stop_child()
        return submitit.helpers.DelayedSubmission(PointJob(self.spec, self.gpus, self.modules))

    def _train_on_gpus(self, point: SweepPoint) -> None:
        """Pretrain the point with torchrun on this node's GPUs; the caller holds the point's lock."""
        spec_file = write_point_file(self.spec)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(self.gpus), "-m", "infomin_cli.sweep.worker",
                   *worker.command(str(spec_file), self.modules, pretrain_only=True)]
        with open(point.run_dir / TORCHRUN_LOG, "ab") as log:
            self._child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            code = self._child.wait()
        self._child = None
        if code != 0:
            raise InfominError(f"{point.name}: torchrun exited with {code}; see {point.run_dir / TORCHRUN_LOG}")

    def _stop_child(self) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            return
        os.killpg(child.pid, signal.SIGTERM)  # torchrun and its ranks: they share the session we made
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def make_executor(launch: Launch, folder: Path, name: str) -> Any:
    """A submitit executor for `launch`: one task per job holding `gpus_per_point` GPUs."""
    import submitit

    cluster = "slurm" if launch.launcher == "slurm" else "local"
    try:
        executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    except RuntimeError as exc:  # no srun/sbatch on this machine
        raise InfominError(f"--launcher slurm: {exc} Run the sweep on a login node, or try it here with "
                           "--launcher submitit-local") from None
    parameters: dict[str, Any] = {"name": name, "timeout_min": launch.time_min, "nodes": 1, "tasks_per_node": 1}
    if launch.launcher == "submitit-local" and visible_gpus():  # every local job sees GPUs 0..N-1
        parameters["gpus_per_node"] = launch.gpus_per_point
    if launch.launcher == "slurm":
        parameters.update(gpus_per_node=launch.gpus_per_point, cpus_per_task=CPUS_PER_GPU * launch.gpus_per_point,
                          slurm_signal_delay_s=120)
        for key, value in (("slurm_partition", launch.partition), ("slurm_account", launch.account),
                           ("slurm_qos", launch.qos)):
            if value:
                parameters[key] = value
        typed = {k: v for k, v in launch.options.items() if k in TYPED_OPTIONS}  # converted by make_launch
        parameters.update({k if k in GENERIC_OPTIONS else f"slurm_{k}": v for k, v in typed.items()})
        rest = {k: v for k, v in launch.options.items() if k not in typed}
        if rest:
            parameters["slurm_additional_parameters"] = rest
    try:
        executor.update_parameters(**parameters)
    except (ValueError, TypeError) as exc:
        raise InfominError(f"submitit refused the job options: {str(exc).splitlines()[0]}") from None
    return executor


def run_cluster_sweep(points: list[SweepPoint], job: SweepJob, launch: Launch, runs_dir: Path, show: bool = True,
                      title: str = "", executor: Any = None) -> list[dict[str, Any]]:
    """Submit one job per point the CSV lacks; with `launch.wait`, show them finish and fail in
    one line if any did not (rerun the same command to resume those)."""
    submitted = submit(points, job, launch, runs_dir, executor)
    if not launch.wait:
        return [point_row(job, p) for p in points]
    return watch(points, job, submitted, show, title)


def submit(points: list[SweepPoint], job: SweepJob, launch: Launch, runs_dir: Path,
           executor: Any = None) -> list[tuple[SweepPoint, Any]]:
    """One submitit job per point not yet in the CSV (a SLURM job array when there are several)."""
    done = done_hashes(job, points)
    todo = [p for p in points if p.config_hash not in done]
    folder = launch.folder or Path(runs_dir) / SUBMITIT_DIR
    executor = executor or make_executor(launch, folder, name=f"infomin-{todo[0].knob}" if todo else "infomin")
    jobs: list[tuple[SweepPoint, Any]] = []
    with executor.batch() if len(todo) > 1 and launch.launcher == "slurm" else contextlib.nullcontext():
        for point in todo:
            jobs.append((point, executor.submit(PointJob(point_to_dict(point, job), launch.gpus_per_point,
                                                         registered_by(job)))))
    ids = ", ".join(str(j.job_id) for _, j in jobs) or "none"
    print(f"submitted {len(jobs)} job(s) ({ids}); logs in {folder}", file=sys.stderr, flush=True)
    return jobs


def watch(points: list[SweepPoint], job: SweepJob, submitted: list[tuple[SweepPoint, Any]], show: bool = True,
          title: str = "") -> list[dict[str, Any]]:
    """Wait for the jobs, filling the same display as a local sweep; a failed or killed job is
    named with its log, the others are still waited for."""
    failures: list[str] = []
    submitted_hashes = {p.config_hash for p, _ in submitted}
    with SweepDisplay(title or "finished points", total=len(points), enabled=show) as display:
        for point in points:
            if point.config_hash not in submitted_hashes:
                display.point_done(point, point_row(job, point), "(in CSV)")
        pending = list(submitted)
        while pending:
            for entry in [e for e in pending if e[1].done()]:
                pending.remove(entry)
                point, running = entry
                try:
                    note = running.result()["note"]
                except Exception as exc:  # a failed or killed job: name it and its log, keep watching the rest
                    failures.append(f"{point.name}: job {running.job_id} {_why(exc)}, log {running.paths.stderr}")
                    continue
                display.point_done(point, point_row(job, point), note)
            display.progress.update(display.points_task, stats=f"{len(pending)} job(s) queued or running")
            if pending:
                time.sleep(POLL_SECONDS)
    if failures:
        raise InfominError(f"{len(failures)} of {len(points)} points failed ({'; '.join(failures)}); rerun the "
                           "same command to resume them from their checkpoints")
    return [point_row(job, p) for p in points]


def _why(exc: Exception) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return ("ended: " + lines[-1][:200]) if lines else f"ended ({type(exc).__name__})"


