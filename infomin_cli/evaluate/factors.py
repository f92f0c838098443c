"""Colorful Moving MNIST's factor probes (paper B.4, Table 1): which of digit, position and
background did the views make the encoder keep, in its sequence and in its image representation?

Digit and background are classes: the linear probe of `linear.py`, top-1 (%). Position is the
digit's centre at frame t, (x, y) in canvas pixels: a ridge regression, mean Euclidean error (px).
Beside the probes, `supervised_rows` trains the same architecture end to end on one factor's
labels, the reference the paper sets each contrastive number against.

A split's classes are `source.labels`, its regression targets `source.targets` (float (N, 2));
which one a factor is decides the probe, so the same code reads a dataset with any such factors.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.data import Dataset
from infomin_cli.data.source import BatchSource, as_source, iter_batches, targets_of
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.features import extract_features
from infomin_cli.evaluate.fit import fit
from infomin_cli.evaluate.linear import train_linear_probe
from infomin_cli.models import ENCODERS
from infomin_cli.results import append_row
from infomin_cli.results.rows import probe_row, reference_row
from infomin_cli.runs import LoadedRun, build_views, image_size_of, load_data, load_run, validate
from infomin_cli.runtime.device import pick_device
from infomin_cli.runtime.precision import FP32, Precision, full_precision, resolve
from infomin_cli.runtime.schedule import cosine

RIDGE = 1e-3  # of the (standardised) features' variance: enough to make a rank-deficient Gram solvable
# The supervised reference's Adam rate (the embedded moving-mnist preset's) and batch. Not the
# run's batch: it has a fixed number of sequences to learn from, and on the embedded data (frame t's
# digit, 10 epochs) batch 32 reached 32 % test top-1 where the preset's 128 reached 19 %.
SUPERVISED_LR = 2e-3
SUPERVISED_BATCH = 32


def is_regression(source: BatchSource, label: str) -> bool:
    return label in targets_of(source)


def names(value: str | Sequence[str]) -> tuple[str, ...]:
    """One label (or layer) or several: `supervised_rows(config, "digit", "image")` is one model."""
    return (value,) if isinstance(value, str) else tuple(value)


def check_factors(source: BatchSource, labels: Iterable[str], dataset: str) -> None:
    """Every label is a class or a regression target of `source`, else one line listing those it has."""
    known = sorted(source.labels) + sorted(targets_of(source))
    for label in labels:
        if label not in known:
            raise InfominError(f"dataset {dataset!r} has no factor {label!r}; its factors: {', '.join(known)}")


def check_layers(layers: Iterable[str], available: Sequence[str], encoder: str) -> None:
    for layer in layers:
        if layer not in available:
            raise InfominError(f"encoder {encoder!r} has no layer {layer!r}; its layers: {', '.join(available)}")


# ---------------------------------------------------------------------------------------------
# the position probe


def train_position_probe(train_x: torch.Tensor, train_xy: torch.Tensor, test_x: torch.Tensor, test_xy: torch.Tensor,
                         ridge: float = RIDGE) -> float:
    """Mean Euclidean error (px) on the test split of a linear map from features to (x, y).

    Closed form, so the number depends on the features alone (no epochs, lr or seed to match
    between runs). Features are standardised with the train split's statistics, so one small
    ridge (`ridge` x n on the Gram's diagonal) suits every layer; solved in float64 on the CPU
    (the Gram is only D x D)."""
    x, test = train_x.detach().double().cpu(), test_x.detach().double().cpu()
    y, test_y = train_xy.detach().double().cpu(), test_xy.detach().double().cpu()
    mean, std = x.mean(0, keepdim=True), x.std(0, keepdim=True).clamp_min(1e-6)
    x, test = (x - mean) / std, (test - mean) / std
    y_mean = y.mean(0, keepdim=True)
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ (y - y_mean))
    return float((test @ weights + y_mean - test_y).norm(dim=1).mean())


# ---------------------------------------------------------------------------------------------
# probes of a trained run


def factor_probe_run(run_dir: str | Path, labels: str | Sequence[str], layers: str | Sequence[str],
                     results: str | Path | None = None, epochs: int = 100, device: str = "auto",
                     knob: str | None = None, *, random_init: bool = False,
                     run: LoadedRun | None = None, precision: str | None = None) -> list[dict[str, Any]]:
    """One row per (label, layer), label-major in the order given (the last row is the last label's
    last layer): digit/background `top1` (%), position `px_error` (px). Features are extracted once
    per layer and split. `epochs` is the linear classifier's (the regression has none). `run`: the
    already loaded run, as `probe_run` takes it; `random_init` probes the untrained architecture."""
    if run is not None and run.trained == random_init:
        raise ValueError(f"factor_probe_run(random_init={random_init}) was handed a run loaded with "
                         f"random_init={not run.trained}")
    if run is None:
        run = load_run(run_dir, device, random_init=random_init, precision=precision)
    labels, layers = names(labels), names(layers)
    train, test = as_source(run.dataset.train), as_source(run.dataset.test)
    check_factors(test, labels, run.dataset.name)
    check_layers(layers, run.model.layers, run.config.encoder)
    torch.manual_seed(run.config.seed)
    features: dict[str, tuple[torch.Tensor, torch.Tensor, float]] = {}
    for layer in layers:
        started = time.perf_counter()
        train_x = extract_features(run.model, run.views, train, run.device, layer, precision=run.precision)
        test_x = extract_features(run.model, run.views, test, run.device, layer, precision=run.precision)
        features[layer] = (train_x, test_x, time.perf_counter() - started)
    rows = []
    for label in labels:
        for layer in layers:
            train_x, test_x, seconds = features[layer]
            started = time.perf_counter()
            if is_regression(test, label):
                value = train_position_probe(train_x, targets_of(train)[label], test_x, targets_of(test)[label])
            else:
                value = train_linear_probe(train_x, train.labels[label].to(run.device), test_x,
                                           test.labels[label].to(run.device), epochs=epochs, seed=run.config.seed)
            seconds += time.perf_counter() - started
            if is_regression(test, label):  # a distance in px, from a fit with no epochs
                row = probe_row(run, label, layer, value, seconds, knob, probe_epochs=None, probe_task="regression",
                                metric="px_error", unit="px")
            else:
                row = probe_row(run, label, layer, value, seconds, knob, probe_epochs=epochs)
            rows.append(row)
            if results is not None:
                append_row(results, row)
    return rows


# ---------------------------------------------------------------------------------------------
# the supervised reference: the same architecture trained on one factor's labels


@dataclass
class SupervisedResult:
    metric: float  # top-1 (%) for a class, mean Euclidean error (px) for a position
    loss: float  # mean training loss of the last epoch


class Supervised(nn.Module):
    """A fresh encoder and a linear head on one of its probe layers."""

    def __init__(self, encoder: str, channels: int, layer: str, outputs: int) -> None:
        super().__init__()
        self.encoder = ENCODERS.get(encoder)(channels)
        self.head = nn.Linear(self.encoder.out_dim, outputs)
        self.layer = layer

    def forward(self, probe_input: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.features(probe_input, self.layer))


def train_supervised(train: BatchSource, test: BatchSource, views, task: str, layer: str, epochs: int,
                     device: torch.device | str = "cpu", batch_size: int = SUPERVISED_BATCH,
                     lr: float = SUPERVISED_LR, seed: int = 0, encoder: str = "seq-convnet",
                     precision: Precision = FP32) -> SupervisedResult:
    """Train `encoder` + a linear head end to end on `task` from the probe input's `layer` (frames
    1..k for `sequence`, frame t for `image`), on the fixed train split for `epochs` (Adam, cosine),
    and score it on the test split.

    Classes: cross-entropy, top-1 (%). A position: mean-squared error on (x, y) in canvas units
    centred on the canvas (so the loss does not depend on its size), reported as the mean
    Euclidean error in px. The train split, not the pretraining source, because the latter's
    fresh batches come without their labels; `epochs` sets how many sequences it sees."""
    device = torch.device(device)
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    side = float(train.shape[-1])
    regression = is_regression(train, task)
    if regression:
        y_train, outputs = targets_of(train)[task].float() / side - 0.5, targets_of(train)[task].shape[1]
    else:
        y_train = train.labels[task].long()
        outputs = int(max(y_train.max(), test.labels[task].max())) + 1
    model = Supervised(encoder, train.shape[-3], layer, outputs).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train)
    starts = [s for s in range(0, n, batch_size) if n - s >= 2]  # BN needs two samples in a batch
    schedule = cosine(optimizer, max(1, epochs * len(starts)))

    def batches():
        perm = torch.randperm(n, generator=order)
        return (perm[start : start + batch_size] for start in starts)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        with full_precision(device):
            inputs = views.probe_inputs(train.batch(idx, device))[0]
        with precision.autocast(device):
            out = model(inputs)
        target = y_train[idx].to(device)
        return F.mse_loss(out.float(), target) if regression else F.cross_entropy(out.float(), target)

    losses = fit(model, optimizer, schedule, epochs, batches, loss)
    last_loss = float(torch.stack(losses).mean()) if losses else float("nan")
    return SupervisedResult(evaluate_supervised(model, test, views, task, device, 256, regression, precision),
                            last_loss)


@torch.no_grad()
def evaluate_supervised(model: Supervised, test: BatchSource, views, task: str, device: torch.device,
                        batch_size: int, regression: bool, precision: Precision = FP32) -> float:
    model.eval()
    outs = []
    for batch in iter_batches(test, batch_size, device):
        with full_precision(device):
            inputs = views.probe_inputs(batch)[0]
        with precision.autocast(device):
            outs.append(model(inputs).float().cpu())
    out = torch.cat(outs)
    if regression:
        side = float(test.shape[-1])
        return float(((out + 0.5) * side - targets_of(test)[task].float()).norm(dim=1).mean())
    return float((out.argmax(1) == test.labels[task]).float().mean()) * 100


def matching_epochs(config, data: Dataset) -> int:
    """Epochs over the train split that give the supervised model as many optimiser steps as the
    contrastive run took (its epochs x its pretraining split / its batch), at the supervised batch:
    5 for the embedded preset (10 x 8,000 / 128 = 620 steps of 32 over 4,000 sequences), 100 at paper
    scale. Steps, not sequences: the contrastive batch is 4x larger, and matching sequences made the
    baseline cost as much as three contrastive runs per seed."""
    pretrain = len(data.pretrain) if config.limit is None else min(config.limit, len(data.pretrain))
    steps = config.epochs * (pretrain // config.batch_size)
    return max(1, math.ceil(steps * SUPERVISED_BATCH / len(data.train)))


def supervised_hash(config, task: str, layer: str, epochs: int, kind: str) -> str:
    """What decides a supervised row (`kind`: the reference's name): the data, the architecture, the
    seed and this training."""
    fields = {"method": kind, "dataset": config.dataset, "data_root": config.data_root,
              "image_size": config.image_size, "encoder": config.encoder, "seed": config.seed,
              "batch_size": SUPERVISED_BATCH, "lr": SUPERVISED_LR, "task": task, "layer": layer, "epochs": epochs}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def supervised_rows(config, labels: str | Sequence[str], layers: str | Sequence[str], epochs: int | None = None,
                    device: str = "auto", results: str | Path | None = None, *, kind: str,
                    data: Dataset | None = None, views=None) -> list[dict[str, Any]]:
    """The paper's supervised reference: one fresh model per (label, layer), trained on that
    label alone; rows in `factor_probe_run`'s order and schema, named `kind` (knob_value, objective). `config` is the contrastive run's
    (its dataset, image size, encoder and seed); `epochs` None matches the optimiser steps that
    run took (`matching_epochs`: 5 epochs of the 4,000 train sequences for the embedded preset;
    100 at paper scale, for a GPU). `data` and `views`: already built (a sweep holding the dataset, or a test's fakes); else
    both come from the validated config."""
    if data is None:
        config = validate(config)
        data = load_data(config)
    if views is None:
        views = build_views(config, image_size_of(config, data))
    labels, layers = names(labels), names(layers)
    train, test = as_source(data.train), as_source(data.test)
    check_factors(test, labels, data.name)
    check_layers(layers, ENCODERS.get(config.encoder)(train.shape[-3]).layers, config.encoder)
    epochs = matching_epochs(config, data) if epochs is None else epochs
    dev = pick_device(device)
    precision = resolve(config.precision, dev)
    rows = []
    for label in labels:
        for layer in layers:
            started = time.perf_counter()
            result = train_supervised(train, test, views, label, layer, epochs, dev, seed=config.seed,
                                      encoder=config.encoder, precision=precision)
            regression = is_regression(test, label)
            row = reference_row(config, kind, supervised_hash(config, label, layer, epochs, kind), label, layer, epochs,
                                "px_error" if regression else "top1", result.metric, "px" if regression else "%",
                                "regression" if regression else "classification", result.loss,
                                time.perf_counter() - started)
            rows.append(row)
            if results is not None:
                append_row(results, row)
    return rows
