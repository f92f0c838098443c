"""Estimate MI on a known-MI source with any estimator: the path behind `mi-estimate --source`.

One function per (source, MI, estimator) point, so the CLI, the tests and the staircase
benchmark all go through the same code and get the same `Estimate`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from infomin_cli.errors import InfominError
from infomin_cli.mi.estimators import ESTIMATORS
from infomin_cli.mi.knn import ksg
from infomin_cli.mi.report import Estimate
from infomin_cli.mi.sources import get_source, true_mi
from infomin_cli.mi.train import CriticSpec, train_and_estimate

ALL_ESTIMATORS = (*ESTIMATORS, "ksg")


def parse_estimators(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in ALL_ESTIMATORS]
    if not names or bad:
        raise InfominError(
            f"unknown estimator {bad[0] if bad else text!r}; choose from: {', '.join(ALL_ESTIMATORS)}"
        )
    return names


def parse_mi_list(text: str) -> list[float]:
    """'0,2,4' -> [0.0, 2.0, 4.0]; every value a finite number >= 0 (nats)."""
    values: list[float] = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise InfominError(f"--mi {text!r} must be comma-separated numbers >= 0 in nats, e.g. 0,2,4,6") from None
        if not value >= 0 or value == float("inf"):
            raise InfominError(f"--mi value {item!r} must be a finite number >= 0 (nats), e.g. 0,2,4,6")
        values.append(value)
    return values


def estimate_synthetic(
    source: str,
    dim: int,
    mi: float,
    estimator: str,
    spec: CriticSpec = CriticSpec(),
    seed: int = 0,
    eval_batches: int = 50,
    clip: float = 5.0,
    ksg_samples: int = 2000,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Estimate, list[str]]:
    """One estimate and the warnings it raised (e.g. KSG in too many dimensions), as text;
    `on_step` follows a trained critic's steps."""
    if dim < 1:
        raise InfominError(f"--dim must be at least 1, got {dim}")
    sampler = get_source(source).make(mi, dim)
    truth = true_mi(source, mi)
    if estimator == "ksg":
        x, y = sampler(ksg_samples, torch.Generator().manual_seed(seed))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimate = ksg(x.numpy(), y.numpy(), k=3, true_mi=truth)
        return estimate, [str(w.message) for w in caught]
    if estimator not in ESTIMATORS:
        raise InfominError(f"unknown estimator {estimator!r}; choose from: {', '.join(ALL_ESTIMATORS)}")
    return train_and_estimate(sampler, estimator, dim, spec, seed, eval_batches, clip, truth, on_step), []
