"""What every point of one sweep shares (`SweepJob`), and a point with its job as plain JSON for a
worker process or a cluster job (`sweep_point.json` in the point's run folder).

That file sits where anyone who can write the runs folder can change it, so it is read like every
run file (`read_point_file`): a damaged, foreign or hand-edited one is one line naming it and the
way out, and the functions it names are looked up in `sweep/functions.py`'s registries, never imported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomin_cli import ranges
from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.run_files import damaged
from infomin_cli.sweep.functions import DEFAULT_PRETRAIN, DEFAULT_PROBE, PRETRAINS, PROBERS
from infomin_cli.sweep.plan import SweepPoint

POINT_FILE = "sweep_point.json"
REWRITE = "rerun the sweep, which writes it again"  # the way out for a damaged point file


@dataclass(frozen=True)
class SweepJob:
    """Where rows go and how each point is probed; shared by every point of one sweep."""

    csv: Path
    label: str | None = None  # the label the probe predicts (None: the probed dataset's main label)
    probe_epochs: int = 100
    pretrain: str = DEFAULT_PRETRAIN  # a name in sweep.functions.PRETRAINS
    probe: str = DEFAULT_PROBE  # a name in sweep.functions.PROBERS
    probe_dataset: str | None = None  # a transfer probe (B.1: pretrain on DIV2K, probe STL-10); None: the run's own
    probe_data_root: str | None = None
    negatives: int | None = None  # I_NCE against N held-out keys (K = N) instead of the batch: lifts log K
    probe_task: str | None = None  # a name in PROBES (None: the dataset's default task)
    seg_epochs: int | None = None  # a decoder's epochs (None: the task's default)


def point_to_dict(point: SweepPoint, job: SweepJob) -> dict[str, Any]:
    """Everything a separate process needs to run one point, as plain JSON-able data."""
    return {
        "knob": point.knob, "value": point.value, "seed": point.seed, "config": point.config.to_dict(),
        "config_hash": point.config_hash, "run_dir": str(point.run_dir),
        "job": {**job.__dict__, "csv": str(job.csv)},
    }


def point_from_dict(spec: dict[str, Any]) -> tuple[SweepPoint, SweepJob]:
    """The point and job of a spec this package made (`point_to_dict`); a file goes through `read_point_file`."""
    config = RunConfig.from_dict(spec["config"])
    job = SweepJob(**{**spec["job"], "csv": Path(spec["job"]["csv"])})
    point = SweepPoint(spec["knob"], spec["value"], spec["seed"], config, spec["config_hash"], Path(spec["run_dir"]))
    return point, job


def write_point_file(spec: dict[str, Any]) -> Path:
    """The spec as the point folder's `sweep_point.json`, for a worker started on it; returns its path."""
    path = Path(spec["run_dir"]) / POINT_FILE
    path.write_text(json.dumps(spec, default=str))
    return path


# a point file's fields: (their JSON types, whether every file has them); the job's follow SweepJob's annotations
Fields = dict[str, tuple[tuple[type, ...], bool]]
POINT_FIELDS: Fields = {"knob": ((str,), True), "value": ((str, int, float), True), "seed": ((int,), True),
                        "config": ((dict,), True), "config_hash": ((str,), True), "run_dir": ((str,), True),
                        "job": ((dict,), True)}


def read_point_file(path: str | os.PathLike[str]) -> tuple[SweepPoint, SweepJob]:
    """A worker's side of the point file the scheduler wrote, every field checked: JSON, the fields
    a point has and their types, a config that validates, the point's own folder, and functions
    that are registered here."""
    path = Path(path)
    try:
        spec = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise damaged(path, f"not valid JSON: {str(exc).splitlines()[0]}", REWRITE) from None
    except OSError as exc:
        raise damaged(path, exc.strerror or type(exc).__name__, REWRITE) from None
    if not isinstance(spec, dict):
        raise damaged(path, f"a JSON {type(spec).__name__}, not an object", REWRITE)
    _check_fields(path, spec, POINT_FIELDS)
    _check_fields(path, spec["job"], _job_fields(), "job.")
    for name, registry in (("pretrain", PRETRAINS), ("probe", PROBERS)):
        given = spec["job"].get(name, getattr(SweepJob, name))
        if given not in registry:
            raise damaged(path, f"it names {name} function {given!r}, which is not registered here (registered: "
                          f"{', '.join(registry.names())})", REWRITE)
    try:
        ranges.check_fields(RunConfig.from_dict(spec["config"]).to_dict())
        point, job = point_from_dict(spec)
    except (InfominError, TypeError, ValueError) as exc:
        raise damaged(path, f"its config: {str(exc).splitlines()[0]}", REWRITE) from None
    if point.run_dir.resolve() != path.parent.resolve():
        raise damaged(path, f"it names another run folder, {point.run_dir}", REWRITE)
    return point, job


def _job_fields() -> Fields:
    """SweepJob's fields as JSON holds them (a path is a string; `X | None` allows null); those with a default may be left out."""
    hints = typing.get_type_hints(SweepJob)
    return {f.name: (tuple(str if t is Path else t for t in typing.get_args(hints[f.name]) or (hints[f.name],)),
                     f.default is dataclasses.MISSING) for f in dataclasses.fields(SweepJob)}


def _check_fields(path: Path, data: dict[str, Any], fields: Fields, prefix: str = "") -> None:
    """Every field a file must have, no unknown one, each of its JSON type (a bool is not a number)."""
    missing = [name for name, (_, required) in fields.items() if required and name not in data]
    if missing:
        raise damaged(path, f"incomplete: no {prefix}{missing[0]!r}", REWRITE)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise damaged(path, f"unknown field {prefix}{unknown[0]!r}", REWRITE)
    for name, value in data.items():
        types = fields[name][0]
        if value is None:
            fits = type(None) in types
        else:
            fits = bool in types if isinstance(value, bool) else isinstance(value, tuple(t for t in types if t is not type(None)))
        if not fits:
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise damaged(path, f"{prefix}{name} is {json.dumps(value)[:40]}, not {wanted}", REWRITE)
