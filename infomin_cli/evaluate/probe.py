"""`infomin probe`: what did the representation learn? A linear probe on frozen features per label.

Probing several labels of the embedded set (class, background, position, font) shows *which*
factors the views made the encoder keep, which is the question the InfoMin paper asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from infomin_cli.data.source import as_source
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.features import extract_features
from infomin_cli.evaluate.linear import train_linear_probe
from infomin_cli.results import append_row
from infomin_cli.results.rows import RANDOM_INIT_SUFFIX, probe_row
from infomin_cli.runs import LoadedRun, load_run

__all__ = ["RANDOM_INIT_SUFFIX", "probe_run"]


def probe_run(run_dir: str | Path, label: str = "class", layer: str | None = None, random_init: bool = False,
              results: str | Path | None = "results.csv", epochs: int = 100, device: str = "auto",
              knob: str | None = None, dataset: str | None = None, data_root: str | Path | None = None,
              *, run: LoadedRun | None = None, precision: str | None = None,
              progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Fit a linear probe for `label` on the train split's frozen features; top-1 on the test split.
    Appends one row to `results` (unless None) and returns it. `knob` names the knob this run
    varies (a sweep's); by default the family's first knob. `dataset` probes on another dataset
    than the run trained on (a transfer probe; the row's dataset reads `trained->probed`).
    `run`: the already loaded run (a sweep point that has its dataset in memory), so nothing is
    read twice; it must be what `load_run(run_dir, device, random_init, dataset, data_root)` returns.
    `precision`: the encoder's (runtime/precision.py; None: the run's own, `auto` unless it was
    trained with another)."""
    started = time.perf_counter()
    if run is not None and run.trained == random_init:
        raise ValueError(f"probe_run(random_init={random_init}) was handed a run loaded with random_init={not run.trained}")
    if run is None:
        run = load_run(run_dir, device, random_init=random_init, dataset=dataset, data_root=data_root,
                       precision=precision)
    run.dataset.check_label(label)
    if layer is not None and layer not in run.model.layers:
        raise InfominError(f"encoder {run.config.encoder!r} has no layer {layer!r}; its layers: {', '.join(run.model.layers)}")
    layer = layer or run.model.encoders[0].default_probe_layer
    torch.manual_seed(run.config.seed)
    train, test = as_source(run.dataset.train), as_source(run.dataset.test)
    train_x = extract_features(run.model, run.views, train, run.device, layer, precision=run.precision)
    test_x = extract_features(run.model, run.views, test, run.device, layer, precision=run.precision)
    top1 = train_linear_probe(train_x, train.labels[label].to(run.device), test_x, test.labels[label].to(run.device),
                              epochs=epochs, seed=run.config.seed, progress=progress)
    row = probe_row(run, label, layer, top1, time.perf_counter() - started, knob, dataset, probe_epochs=epochs)
    if results is not None:
        append_row(results, row)
    return row
