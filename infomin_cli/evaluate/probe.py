"""`infomin probe`: what did the representation learn? A linear probe on frozen features per label.

Probing several labels of the embedded set (class, background, position, font) shows *which*
factors the views made the encoder keep, which is the question the InfoMin paper asks.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from infomin_cli import __version__
from infomin_cli.engine.run import load_run
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.features import extract_features
from infomin_cli.evaluate.linear import train_linear_probe
from infomin_cli.results import append_row

RANDOM_INIT_SUFFIX = "+random-init"


def probe_run(run_dir: str | Path, label: str = "class", layer: str | None = None, random_init: bool = False,
              results: str | Path | None = "results.csv", epochs: int = 100, device: str = "auto",
              knob: str | None = None, dataset: str | None = None, data_root: str | Path | None = None) -> dict[str, Any]:
    """Fit a linear probe for `label` on the train split's frozen features; top-1 on the test split.
    Appends one row to `results` (unless None) and returns it. `knob` names the knob this run
    varies (a sweep's); by default the family's first knob. `dataset` probes on another dataset
    than the run trained on (a transfer probe; the row's dataset reads `trained->probed`)."""
    started = time.perf_counter()
    run = load_run(run_dir, device, random_init=random_init, dataset=dataset, data_root=data_root)
    run.dataset.check_label(label)
    if layer is not None and layer not in run.model.layers:
        raise InfominError(f"encoder {run.config.encoder!r} has no layer {layer!r}; its layers: {', '.join(run.model.layers)}")
    layer = layer or run.model.encoders[0].default_probe_layer
    torch.manual_seed(run.config.seed)
    train, test = run.dataset.train, run.dataset.test
    train_x = extract_features(run.model, run.views, train.images, run.device, layer)
    test_x = extract_features(run.model, run.views, test.images, run.device, layer)
    top1 = train_linear_probe(train_x, train.labels[label].to(run.device), test_x, test.labels[label].to(run.device),
                              epochs=epochs, seed=run.config.seed)
    knob_name = knob or next(iter(run.config.knobs), "")
    summary = run.summary if run.trained else {}
    row = {
        "run_id": run.folder.name + ("" if run.trained else RANDOM_INIT_SUFFIX),
        "config_hash": run.config.hash(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": run.config.dataset if dataset is None else f"{run.config.dataset}->{dataset}",
        "views": run.config.views,
        "knob_name": knob_name,
        "knob_value": run.config.knobs.get(knob_name, "") if knob_name else "",
        "seed": run.config.seed,
        "encoder": run.config.encoder,
        "head": run.config.head,
        "objective": run.config.objective,
        "temperature": run.config.temperature,
        "K": run.config.batch_size,
        "loss": summary.get("loss"),
        "i_nce": summary.get("i_nce"),
        "probe_label": label,
        "probe_layer": layer,
        "metric_name": "top1",
        "metric_value": top1,
        "unit": "%",
        "epochs": run.config.epochs if run.trained else 0,
        "wall_seconds": (summary.get("wall_seconds") or 0.0) + time.perf_counter() - started,
        "infomin_version": __version__,
    }
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    if results is not None:
        append_row(results, row)
    return row
