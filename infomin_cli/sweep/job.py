"""What every point of one sweep shares (`SweepJob`), and a point with its job as plain JSON for a
worker process or a cluster job."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin_cli.config import RunConfig
from infomin_cli.sweep.plan import SweepPoint

# The library functions a point calls; tests and the subprocess worker may name others.
DEFAULT_PRETRAIN = "infomin_cli.pipeline:train_run"  # pretrain -> held-out I_NCE
DEFAULT_PROBE = "infomin_cli.sweep.point:probe_point"  # (task, folder, ask, run) -> rows


@dataclass(frozen=True)
class SweepJob:
    """Where rows go and how each point is probed; shared by every point of one sweep."""

    csv: Path
    label: str | None = None  # the label the probe predicts (None: the probed dataset's main label)
    probe_epochs: int = 100
    pretrain: str = DEFAULT_PRETRAIN  # "module:function"
    probe: str = DEFAULT_PROBE
    probe_dataset: str | None = None  # a transfer probe (B.1: pretrain on DIV2K, probe STL-10); None: the run's own
    probe_data_root: str | None = None
    negatives: int | None = None  # I_NCE against N held-out keys (K = N) instead of the batch: lifts log K
    probe_task: str | None = None  # a name in PROBES (None: the dataset's default task)
    seg_epochs: int | None = None  # a decoder's epochs (None: the task's default)


def load_function(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def point_to_dict(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    """Everything a separate process needs to run one point, as plain JSON-able data."""
    return {
        "knob": point.knob, "value": point.value, "seed": point.seed, "config": point.config.to_dict(),
        "config_hash": point.config_hash, "run_dir": str(point.run_dir),
        "job": {**job.__dict__, "csv": str(job.csv)},
    }


def point_from_file(path: str | os.PathLike[str]) -> tuple[SweepPoint, SweepJob]:
    """A worker's side of the point file the scheduler wrote."""
    return point_from_dict(json.loads(Path(path).read_text()))


def point_from_dict(spec: dict[str, Any]) -> tuple[SweepPoint, SweepJob]:
    config = RunConfig.from_dict(spec["config"])
    job = SweepJob(**{**spec["job"], "csv": Path(spec["job"]["csv"])})
    point = SweepPoint(spec["knob"], spec["value"], spec["seed"], config, spec["config_hash"], Path(spec["run_dir"]))
    return point, job
