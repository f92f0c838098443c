"""Pairs (x, y) with known mutual information, for checking estimators against the truth.

Correlated Gaussians are the standard test bed (Poole et al. 2019; Song & Ermon 2020): with
x ~ N(0, I_d) and y = rho x + sqrt(1 - rho^2) eps, each coordinate pair is an independent
bivariate Gaussian, so I(x; y) = -(d/2) log(1 - rho^2) exactly, and the true log density ratio is
known in closed form (used as the "perfect critic" in tests). The cubic variant y -> y^3 is an
invertible map of y, so it keeps the MI but breaks the linear structure a critic could exploit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from infomin_cli.errors import InfominError

Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def mi_to_rho(mi: float, dim: int) -> float:
    """The per-coordinate correlation giving total MI `mi` nats over `dim` coordinates."""
    if mi < 0 or dim < 1:
        raise ValueError(f"need mi >= 0 and dim >= 1, got mi={mi}, dim={dim}")
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def rho_to_mi(rho: float, dim: int) -> float:
    return -0.5 * dim * math.log(1.0 - rho * rho)


def sample_gaussian(n: int, dim: int, rho: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, dim, generator=generator)
    eps = torch.randn(n, dim, generator=generator)
    return x, rho * x + math.sqrt(1.0 - rho * rho) * eps


def gaussian_log_ratio(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """True log p(x_i, y_j) / (p(x_i) p(y_j)) for every pair: the optimal critic's score matrix.

    Per coordinate, log p(y|x)/p(y) = -1/2 log(1 - rho^2) - (y - rho x)^2 / (2 (1 - rho^2)) + y^2 / 2.
    """
    var = 1.0 - rho * rho
    dim = x.shape[1]
    diff = y.unsqueeze(0) - rho * x.unsqueeze(1)  # (B, K, d): x_i against y_j
    return -0.5 * dim * math.log(var) - diff.pow(2).sum(-1) / (2 * var) + y.pow(2).sum(-1).unsqueeze(0) / 2


@dataclass(frozen=True)
class Source:
    """A named way of drawing (x, y) with a target MI; `make(mi, dim)` gives a sampler."""

    name: str
    summary: str
    make: Callable[[float, int], Sampler]


def _gaussian(mi: float, dim: int) -> Sampler:
    rho = mi_to_rho(mi, dim)
    return lambda n, g: sample_gaussian(n, dim, rho, g)


def _cubic(mi: float, dim: int) -> Sampler:
    rho = mi_to_rho(mi, dim)

    def sample(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sample_gaussian(n, dim, rho, g)
        return x, y.pow(3)

    return sample


def _shuffled(mi: float, dim: int) -> Sampler:
    """Correlated pairs (at `mi`) with y permuted: the marginals are kept, the true MI is 0."""
    rho = mi_to_rho(mi, dim)

    def sample(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sample_gaussian(n, dim, rho, g)
        return x, y[torch.randperm(n, generator=g)]

    return sample


SOURCES: dict[str, Source] = {
    "gaussian": Source("gaussian", "x ~ N(0, I_d), y = rho x + sqrt(1-rho^2) eps", _gaussian),
    "cubic": Source("cubic", "the Gaussian pair with y -> y^3 (same MI)", _cubic),
    "shuffled": Source("shuffled", "Gaussian pairs with y shuffled across the batch (true MI 0)", _shuffled),
}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise InfominError(f"unknown source {name!r}; choose one of: {', '.join(SOURCES)}")
    return SOURCES[name]


def true_mi(source: str, mi: float) -> float:
    return 0.0 if source == "shuffled" else mi


@dataclass(frozen=True)
class Staircase:
    """Poole et al. 2019, Fig. 2: d = 20, batch K = 64, MI stepped 2 -> 10 nats, Adam lr 5e-4."""

    dim: int = 20
    batch_size: int = 64
    levels: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    lr: float = 5e-4
    steps_per_level: int = 4000  # Poole et al.; the benchmark uses fewer to fit a CPU budget


STAIRCASE = Staircase()
