"""Train a critic on fresh pairs from a sampler, then estimate MI on held-out batches.

Every training step draws a new batch, so the critic never sees the evaluation batches (drawn
afterwards from a separate generator): the held-out value is an honest estimate of the bound
for this critic, and the train value beside it shows any gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from infomin_cli.mi.critics import CRITICS
from infomin_cli.mi.estimators import BOUNDED_BY_LOG_K, ESTIMATORS, smile, training_loss
from infomin_cli.mi.report import Estimate, from_batches
from infomin_cli.mi.sources import Sampler


@dataclass(frozen=True)
class CriticSpec:
    """The critic and optimiser; defaults are the issue's protocol (Poole et al. 2019 sizes)."""

    kind: str = "separable"
    hidden: int = 256
    layers: int = 2
    embed_dim: int = 32
    lr: float = 5e-4
    batch_size: int = 128
    steps: int = 1500

    def build(self, x_dim: int, y_dim: int) -> nn.Module:
        if self.kind == "separable":
            return CRITICS["separable"](x_dim, y_dim, self.hidden, self.layers, self.embed_dim)
        return CRITICS[self.kind](x_dim, y_dim, self.hidden, self.layers)


def estimator_fn(name: str, clip: float = 5.0) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "smile":
        return lambda s: smile(s, clip)
    return ESTIMATORS[name]


def fit_critic(
    critic: nn.Module,
    sampler: Sampler,
    objective: str,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    clip: float = 5.0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Adam on the estimator's own training loss; returns the training estimate at every step."""
    loss_fn = training_loss(objective, clip)
    value_fn = estimator_fn(objective, clip)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    history: list[float] = []
    critic.train()
    for step in range(steps):
        x, y = sampler(batch_size, generator)
        scores = critic(x, y)
        loss = loss_fn(scores)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            history.append(float(value_fn(scores.detach())))
        if on_step is not None:
            on_step(step, history[-1])
    return history


@torch.no_grad()
def evaluate(
    critic: nn.Module,
    sampler: Sampler,
    estimators: Sequence[str],
    n_batches: int,
    batch_size: int,
    generator: torch.Generator,
    clip: float = 5.0,
) -> dict[str, list[float]]:
    """Per-batch held-out values of every estimator, all on the same batches."""
    critic.eval()
    out: dict[str, list[float]] = {name: [] for name in estimators}
    for _ in range(n_batches):
        x, y = sampler(batch_size, generator)
        scores = critic(x, y).double()
        for name in estimators:
            out[name].append(float(estimator_fn(name, clip)(scores)))
    return out


def train_and_estimate(
    sampler: Sampler,
    estimator: str,
    dim: int,
    spec: CriticSpec = CriticSpec(),
    seed: int = 0,
    eval_batches: int = 50,
    clip: float = 5.0,
    true_mi: float | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> Estimate:
    """Train a fresh critic with `estimator`'s objective and report its held-out estimate
    (`on_step(step, training estimate)` after every training step: progress)."""
    start = time.perf_counter()
    torch.manual_seed(seed)  # critic initialisation
    train_gen = torch.Generator().manual_seed(2 * seed)
    eval_gen = torch.Generator().manual_seed(2 * seed + 1)
    critic = spec.build(dim, dim)
    history = fit_critic(critic, sampler, estimator, spec.steps, spec.batch_size, spec.lr, train_gen, clip, on_step)
    values = evaluate(critic, sampler, [estimator], eval_batches, spec.batch_size, eval_gen, clip)[estimator]
    tail = history[-min(50, len(history)) :] if history else []
    note = f"{spec.kind} critic, {spec.steps} steps, {time.perf_counter() - start:.1f}s"
    if estimator == "smile":
        note += f", clip tau={clip:g} (not a lower bound)"
    estimate = from_batches(estimator, values, spec.batch_size, tail, true_mi, note,
                            bounded_by_log_k=estimator in BOUNDED_BY_LOG_K)
    if not math.isfinite(estimate.value):
        estimate = Estimate(**{**estimate.__dict__, "note": note + ", non-finite: critic diverged"})
    return estimate
