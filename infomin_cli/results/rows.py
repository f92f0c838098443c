"""Every results row is built here, so a column means one thing whoever writes it.

Probe rows (`evaluate/probe.py`), estimate rows (`estimation.py`) and sweep rows all describe a run
with the same `run_columns`, and carry an I_NCE only together with its K (`with_i_nce`): `K` is
always the number of candidates per positive behind the row's `i_nce` (the held-out estimate's K,
which `--negatives` raises), never the training batch, because the x-axis of a reverse-U is only
comparable between rows whose log K ceiling is known. The training objective's K is `K_train`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from infomin_cli import __version__

if TYPE_CHECKING:
    from infomin_cli.config import RunConfig
    from infomin_cli.mi.report import Estimate
    from infomin_cli.runs import LoadedRun

RANDOM_INIT_SUFFIX = "+random-init"  # run_id of the untrained baseline probed beside a run


def timestamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def main_knob(views: str, knobs: Mapping[str, Any]) -> tuple[str, Any]:
    """The family's first knob with a value in `knobs` ('' when none): the knob a row is plotted
    against unless a sweep says which one it varies. Fixed knobs (lab-split's space) never count."""
    from infomin_cli.views import VIEWS

    for knob in VIEWS.get(views).knobs:
        if knob.name in knobs:
            return knob.name, knobs[knob.name]
    return "", ""


def k_train(run: LoadedRun) -> int:
    """K of the training objective: the summary's `K_train`, else the batch size (right for the
    in-batch InfoNCE runs written before the summary recorded it)."""
    return int(run.summary.get("K_train") or run.config.batch_size)


def run_columns(run: LoadedRun, knob: str | None = None, dataset: str | None = None) -> dict[str, Any]:
    """What a row says about the run behind it: identity, training settings, final training loss.
    `dataset` names a transfer dataset (the row's dataset reads `trained->probed`)."""
    from infomin_cli.runs import config_hash

    config = run.config
    knob_name, knob_value = main_knob(config.views, config.knobs)
    if knob:
        knob_name, knob_value = knob, config.knobs.get(knob, "")
    summary = run.summary if run.trained else {}
    return {
        "run_id": run.folder.name + ("" if run.trained else RANDOM_INIT_SUFFIX),
        "config_hash": config_hash(config),
        "dataset": config.dataset if dataset is None else f"{config.dataset}->{dataset}",
        "views": config.views,
        "knob_name": knob_name,
        "knob_value": knob_value,
        "seed": config.seed,
        "encoder": config.encoder,
        "head": config.head,
        "objective": config.objective,
        "temperature": config.temperature,
        "K_train": k_train(run),
        "loss": summary.get("loss"),
        "epochs": run.epochs_trained,  # what the weights were trained for, not what the config plans
    }


def with_i_nce(row: Mapping[str, Any], value: float | None, K: int | None) -> dict[str, Any]:
    """`row` with its I_NCE replaced, K with it: the two columns never come from different estimates."""
    return {**row, "i_nce": value, "K": K if value is not None else None}


def probe_row(run: LoadedRun, label: str, layer: str, value: float, seconds: float, knob: str | None = None,
              dataset: str | None = None, probe_epochs: int | None = None, probe_task: str = "classification",
              metric: str = "top1", unit: str = "%") -> dict[str, Any]:
    """A probe's row: the run, its summary's held-out I_NCE with that estimate's K, and the probe's
    `metric` (top-1 in % unless told). `wall_seconds` adds the run's training time to the probe's
    `seconds`; `probe_epochs` are the probe's own, which decide its value as much as the run does."""
    summary = run.summary if run.trained else {}
    row = with_i_nce(run_columns(run, knob, dataset), summary.get("i_nce"), summary.get("K"))
    row.update(
        timestamp=timestamp(),
        probe_label=label,
        probe_layer=layer,
        probe_task=probe_task,
        probe_epochs=probe_epochs,
        metric_name=metric,
        metric_value=value,
        unit=unit,
        wall_seconds=(summary.get("wall_seconds") or 0.0) + seconds,
        infomin_version=__version__,
    )
    return clean(row)


def sweep_row(row: Mapping[str, Any], config_hash: str, knob_name: str, knob_value: Any, seed: int, probe_task: str,
              probe_epochs: int | None, i_nce: float | None, K: int | None) -> dict[str, Any]:
    """A probe's row as a sweep point appends it: the sweep's own facts win (the CSV must say which
    point a row is even if a probe guesses), with the point's I_NCE and its K."""
    facts = {"config_hash": config_hash, "knob_name": knob_name, "knob_value": knob_value, "seed": seed,
             "probe_task": probe_task, "probe_epochs": probe_epochs}
    return clean(with_i_nce({**{k: v for k, v in row.items() if k != "skipped"}, **facts}, i_nce, K))


def reference_row(config: RunConfig, kind: str, config_hash: str, label: str, layer: str, epochs: int,
                  metric: str, value: float, unit: str, probe_task: str, loss: float, seconds: float) -> dict[str, Any]:
    """A per-seed reference row of a factors sweep (`kind`: the supervised model, trained on
    `label` alone): knob_value and objective name the reference, and no I_NCE stands behind it."""
    knob_name, _ = main_knob(config.views, config.knobs)
    return clean({
        "run_id": f"{kind}-{label}-{layer}-seed{config.seed}",
        "config_hash": config_hash,
        "timestamp": timestamp(),
        "dataset": config.dataset,
        "views": config.views,
        "knob_name": knob_name,
        "knob_value": kind,
        "seed": config.seed,
        "encoder": config.encoder,
        "head": "linear",
        "objective": kind,
        "temperature": None,
        "K": None,  # no contrastive estimate behind this row (i_nce and K stay empty together)
        "K_train": None,
        "loss": loss,
        "i_nce": None,
        "probe_label": label,
        "probe_layer": layer,
        "probe_task": probe_task,
        "probe_epochs": epochs,
        "metric_name": metric,
        "metric_value": value,
        "unit": unit,
        "epochs": epochs,
        "wall_seconds": seconds,
        "infomin_version": __version__,
    })


def estimate_row(estimate: Estimate, context: Mapping[str, Any]) -> dict[str, Any]:
    """An MI estimate's row. `context` holds the describing columns (`run_columns` for a run).
    `K` is the estimate's K for every estimator; `i_nce` is filled for InfoNCE estimates only."""
    nats = estimate.to("nats")
    row = with_i_nce(context, nats.value if estimate.estimator == "infonce" else None, estimate.K)
    row.update(
        K=estimate.K,
        timestamp=timestamp(),
        probe_label="",
        metric_name=f"mi:{estimate.estimator}",
        metric_value=estimate.value,
        metric_ci_low=estimate.ci_low,
        metric_ci_high=estimate.ci_high,
        unit=estimate.unit,
        infomin_version=__version__,
    )
    return clean(row)


def clean(row: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python values (a row read back through pandas holds numpy scalars, which JSON does not
    take), and NaN -> None, so a missing number is an empty cell rather than the string 'nan'."""
    import numpy as np

    def plain(value: Any) -> Any:
        value = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(value, float) and math.isnan(value) else value

    return {k: plain(v) for k, v in row.items()}
