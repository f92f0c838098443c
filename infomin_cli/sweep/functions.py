"""The functions a sweep point may run, looked up by name.

A point's job names its pretrain and probe functions, and that job travels as a file in the runs
folder (`sweep_point.json`, read by a worker process). Anyone who can write there could name any
importable function, so a name is only ever looked up in these registries: a name nobody
registered is refused in one line, and nothing is imported because a file said so.

The real functions are `pretrain` (pretrain, then the held-out I_NCE: `pipeline.train_run`) and
`probe` (the probe task's own `run`, which covers every task of `evaluate/probes/`, segmentation
included). Tests register stand-ins of their own; a worker process learns which modules registered
the job's functions from the process that started it (`registered_by`, on its command line).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomin_cli.registry import Registry

if TYPE_CHECKING:
    from infomin_cli.evaluate.probes import ProbeAsk, ProbeTask
    from infomin_cli.sweep.job import SweepJob

Pretrain = Callable[..., Mapping[str, Any]]  # (config, run_dir, resume=, progress=) -> the run's summary
Probe = Callable[..., list[dict[str, Any]]]  # (task, folder, ask, run) -> rows, each emitted as made

PRETRAINS: Registry[Pretrain] = Registry("sweep pretrain function")
PROBERS: Registry[Probe] = Registry("sweep probe function")
DEFAULT_PRETRAIN, DEFAULT_PROBE = "pretrain", "probe"


@PRETRAINS.register(DEFAULT_PRETRAIN)
def train_point(config: Any, run_dir: str | Path, resume: bool = False, progress: Any = False) -> Mapping[str, Any]:
    """Pretrain (resuming) and measure the held-out I_NCE; the loaded run rides along for the probe."""
    from infomin_cli.pipeline import train_run  # torch: only where a point really trains

    return train_run(config, run_dir, resume=resume, progress=progress)


@PROBERS.register(DEFAULT_PROBE)
def probe_point(task: ProbeTask, folder: Path, ask: ProbeAsk, run: Any = None) -> list[dict[str, Any]]:
    """A task's probe of a trained point: on the run the pretraining left in memory, else loaded from its folder."""
    return task.run(run if run is not None else task.load(folder, False, ask), ask)


def registered_by(job: SweepJob) -> list[str]:
    """The modules outside this package whose import registered the job's functions: a worker
    process imports them (and nothing else) before it looks the names up."""
    modules = {PRETRAINS.get(job.pretrain).__module__, PROBERS.get(job.probe).__module__}
    return sorted(m for m in modules if m.split(".")[0] != __name__.split(".")[0] and m != "__main__")


def import_registrations(modules: Iterable[str]) -> None:
    """Run the registrations the starting process named (`registered_by`), in a worker."""
    for module in modules:
        importlib.import_module(module)
