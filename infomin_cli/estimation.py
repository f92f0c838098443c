"""What `infomin mi-estimate` does, reachable without the CLI: build estimates for each input
kind, print them, and turn each into one results-CSV row (built by `results.rows`, like every row)."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomin_cli.errors import InfominError
from infomin_cli.mi.report import Estimate
from infomin_cli.progress import PointBars
from infomin_cli.results import append_row
from infomin_cli.results.rows import estimate_row, main_knob, run_columns

if TYPE_CHECKING:
    from rich.progress import Progress

    from infomin_cli.runs import LoadedRun


@dataclass
class EstimateRow:
    """One estimate plus the context a results row needs."""

    estimate: Estimate
    context: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.estimate.to_dict(), **{k: v for k, v in self.context.items() if k != "config"},
                "warnings": self.warnings}


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def synthetic_rows(source: str, dim: int, mi: str, estimators: str, critic: str, steps: int | None,
                   batch_size: int | None, eval_batches: int, clip: float, ksg_samples: int,
                   seed: int, progress: Progress | None = None) -> list[EstimateRow]:
    """One estimate per (MI value, estimator) of a known-MI source; `progress` shows each point and
    its critic's training steps."""
    from infomin_cli.mi.critics import CRITICS
    from infomin_cli.mi.estimators import ESTIMATORS
    from infomin_cli.mi.sources import get_source
    from infomin_cli.mi.synthetic import estimate_synthetic, parse_estimators, parse_mi_list
    from infomin_cli.mi.train import CriticSpec

    get_source(source)
    names = parse_estimators(estimators)
    levels = parse_mi_list(mi)
    if critic not in CRITICS:
        raise InfominError(f"unknown critic {critic!r}; choose one of: {', '.join(CRITICS)}")
    spec = CriticSpec(kind=critic, steps=1500 if steps is None else steps, batch_size=128 if batch_size is None else batch_size)
    rows = []
    bars = PointBars(progress, f"{source}, d={dim}", len(levels) * len(names))
    for level in levels:
        for name in names:
            start = time.perf_counter()
            trained = name in ESTIMATORS  # KSG has no critic to train
            bars.start(f"I = {level:g} nats, {name}", spec.steps if trained else None)
            estimate, warns = estimate_synthetic(source, dim, level, name, spec, seed, eval_batches, clip, ksg_samples,
                                                 on_step=bars.step)
            bars.done()
            config = {"source": source, "dim": dim, "mi": level, "estimator": name, "spec": spec.__dict__,
                      "seed": seed, "eval_batches": eval_batches, "clip": clip, "ksg_samples": ksg_samples}
            context = {
                "run_id": f"synthetic-{source}-d{dim}-mi{level:g}-seed{seed}",
                "config_hash": _hash(config),
                "dataset": f"synthetic:{source}",
                "knob_name": "mi",
                "knob_value": level,
                "seed": seed,
                "encoder": "knn" if name == "ksg" else f"{critic}-mlp",
                "objective": name,
                "K_train": None if name == "ksg" else spec.batch_size,
                "wall_seconds": time.perf_counter() - start,
            }
            rows.append(EstimateRow(estimate, context, warns))
    return rows


def run_rows(run_dir: Path, negatives: int | None, eval_batches: int, seed: int, device: str,
             *, run: LoadedRun | None = None, precision: str | None = None,
             progress: Progress | None = None) -> list[EstimateRow]:
    """Held-out I_NCE of a run folder's own encoders+heads, at `precision` (None: the run's own).
    `run`: the run as `load_run(run_dir, device)` returned it (a sweep point that already holds its
    dataset), so nothing is read twice."""
    from infomin_cli.mi.heldout import heldout_estimate
    from infomin_cli.runs import load_run

    start = time.perf_counter()
    bars = PointBars(progress, "held-out I_NCE", 1)
    bars.start(f"loading {Path(run_dir).name}")
    loaded = load_run(run_dir, device, precision=precision) if run is None else run
    bars.start(f"estimating over {eval_batches} batches")
    config = loaded.config
    estimate = heldout_estimate(loaded.model, loaded.views, loaded.dataset.test, config.batch_size,
                                config.temperature, loaded.device, negatives, eval_batches,
                                loaded.dataset.pretrain, seed=seed + 1, precision=loaded.precision)
    bars.done()
    context = {**run_columns(loaded), "run_id": Path(run_dir).name, "wall_seconds": time.perf_counter() - start}
    return [EstimateRow(estimate, context)]


def views_rows(views: str, knobs: list[str] | None, dataset: str, data_root: Path | None, steps: int | None,
               batch_size: int | None, eval_batches: int, seed: int, device: str,
               precision: str = "auto", progress: Progress | None = None) -> list[EstimateRow]:
    """Held-out I_NCE of a fresh critic trained on a view family's views (the critic trains in fp32;
    its held-out estimate runs at `precision`)."""
    import torch

    from infomin_cli.data import load_dataset
    from infomin_cli.data.source import as_source
    from infomin_cli.mi.heldout import critic_as_embedder, heldout_estimate, train_view_critic
    from infomin_cli.runtime.device import pick_device
    from infomin_cli.runtime.precision import check_precision, resolve
    from infomin_cli.views import VIEWS, parse_knob_args

    start = time.perf_counter()
    check_precision(precision)
    family = VIEWS.get(views)
    given = parse_knob_args(knobs)
    resolved = family.resolve(given)
    bars = PointBars(progress, f"critic on {views}", 1)
    bars.start(f"loading {dataset}")
    data = load_dataset(dataset, data_root, None)
    pretrain, test = as_source(data.pretrain), as_source(data.test)
    size = int(pretrain.shape[-1])
    pair = family.make(given, size)
    dev = pick_device(device)
    steps, batch_size = (300 if steps is None else steps), (64 if batch_size is None else batch_size)
    bars.start("training the critic", steps)
    critic = train_view_critic(pair, data.pretrain, steps, batch_size, dev, seed, on_step=bars.step)
    bars.start(f"estimating over {eval_batches} batches")
    with torch.no_grad():
        estimate = heldout_estimate(critic_as_embedder(critic), pair, test, batch_size, critic.temperature, dev,
                                    None, eval_batches, pretrain, seed=seed + 1,
                                    note=f"fresh conv critic, {steps} steps", precision=resolve(precision, dev))
    bars.done()
    knob_name, knob_value = main_knob(views, given or resolved)
    config = {"views": views, "knobs": resolved, "dataset": dataset, "steps": steps, "batch": batch_size, "seed": seed}
    context = {
        "run_id": f"critic-{views}-" + "-".join(f"{k}{v}" for k, v in sorted(resolved.items())) + f"-seed{seed}",
        "config_hash": _hash(config), "dataset": dataset, "views": views, "knob_name": knob_name,
        "knob_value": knob_value, "seed": seed, "encoder": "small-conv-critic", "objective": "infonce",
        "K_train": batch_size, "wall_seconds": time.perf_counter() - start,
    }
    return [EstimateRow(estimate, context)]


def result_row(row: EstimateRow) -> dict[str, Any]:
    return estimate_row(row.estimate, row.context)


def append_result(path: Path, row: EstimateRow) -> None:
    append_row(path, result_row(row))


TABLE_HEADERS = ("input", "true", "estimator", "value", "95% CI", "train", "K", "log K", "sat")


def table_rows(rows: list[EstimateRow]) -> tuple[list[tuple[str, ...]], list[str]]:
    """The estimates as table cells (`TABLE_HEADERS`), and the notes and warnings to print below."""

    def fmt(v: float | None) -> str:
        return "" if v is None else ("nan" if math.isnan(v) else f"{v:.3f}")

    cells, notes = [], {}
    for row in rows:
        e = row.estimate
        label = row.context.get("views") or row.context.get("dataset", "")
        label = label.removeprefix("synthetic:")
        cells.append((label, fmt(e.true_mi), e.estimator, fmt(e.value), f"[{fmt(e.ci_low)}, {fmt(e.ci_high)}]",
                      fmt(e.train_value), str(e.K), fmt(e.log_k),
                      "YES" if e.saturated else "no" if e.bounded_by_log_k else "–"))
        if e.note:
            notes[f"{e.estimator}: {e.note.split(', ', 1)[-1] if e.estimator != 'ksg' else e.note}"] = None
        for text in row.warnings:
            notes[f"warning {e.estimator}: {text}"] = None
    return cells, list(notes)
