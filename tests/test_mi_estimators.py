"""Exact properties of the score-matrix bounds, and unbiasedness with the true density-ratio critic."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from infomin_cli.mi.estimators import dv, infonce, nwj, smile
from infomin_cli.mi.report import mean_interval
from infomin_cli.mi.sources import gaussian_log_ratio, mi_to_rho, sample_gaussian


def _adversarial_scores(K: int, B: int | None = None) -> list[torch.Tensor]:
    """Score matrices built to push I_NCE up: huge diagonals, -huge negatives, ties, rectangles."""
    B = B or K
    g = torch.Generator().manual_seed(0)
    big = torch.finfo(torch.float64).max / 4
    huge_diag = torch.full((B, K), -big, dtype=torch.float64)
    huge_diag[range(B), range(B)] = big
    spiky = torch.randn(B, K, generator=g, dtype=torch.float64) * 1e3
    spiky[range(B), range(B)] += 1e6
    float32 = (torch.randn(B, K, generator=g) * 30).float()
    float32[range(B), range(B)] = 3e38
    return [huge_diag, spiky, float32, torch.zeros(B, K), torch.randn(B, K, generator=g)]


@pytest.mark.parametrize("K,B", [(2, 2), (64, 64), (128, 128), (256, 32)])
def test_infonce_never_exceeds_log_k_for_adversarial_scores(K: int, B: int) -> None:
    for scores in _adversarial_scores(K, B):
        assert float(infonce(scores)) <= math.log(K)


def test_infonce_never_exceeds_log_k_when_scores_are_optimised_to_maximise_it() -> None:
    scores = torch.zeros(32, 32, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([scores], lr=1e3)
    for _ in range(60):
        optimizer.zero_grad()
        (-infonce(scores)).backward()
        optimizer.step()
        assert float(infonce(scores.detach())) <= math.log(32)
    assert float(infonce(scores.detach())) > math.log(32) - 1e-6  # it did reach the ceiling


def test_infonce_is_invariant_to_per_row_shifts_of_scores() -> None:
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(64, 64, generator=g, dtype=torch.float64) * 3
    shifts = torch.randn(64, 1, generator=g, dtype=torch.float64) * 100
    assert torch.allclose(infonce(scores + shifts), infonce(scores), atol=1e-9)
    # and it does depend on the scores themselves (the check above is not vacuous)
    assert not torch.allclose(infonce(scores * 2), infonce(scores))


def test_non_finite_scores_are_refused_not_clipped() -> None:
    scores = torch.zeros(4, 4)
    scores[0, 0] = math.inf
    for fn in (infonce, nwj, dv, smile):
        with pytest.raises(ValueError, match="nan or inf"):
            fn(scores)


@functools.cache
def _true_critic_values(mi: float, n_batches: int = 200, K: int = 128, dim: int = 20):
    rho = mi_to_rho(mi, dim)
    g = torch.Generator().manual_seed(int(mi * 10))
    out: dict[str, list[float]] = {"nwj": [], "infonce": []}
    for _ in range(n_batches):
        x, y = sample_gaussian(K, dim, rho, g)
        scores = gaussian_log_ratio(x.double(), y.double(), rho)
        out["nwj"].append(float(nwj(scores)))
        out["infonce"].append(float(infonce(scores)))
    return out


@pytest.mark.parametrize("mi", [2.0, 6.0])
def test_nwj_with_true_density_ratio_critic_is_unbiased_within_4_se(mi: float) -> None:
    values = _true_critic_values(mi)
    mean, low, high = mean_interval(values["nwj"])
    se = (high - low) / 2 / 1.972  # t(0.975, 199)
    assert abs(mean - mi) <= 4 * se, f"NWJ {mean:.3f} +- {se:.3f} vs true {mi}"


@pytest.mark.parametrize("mi", [2.0, 6.0])
def test_infonce_with_true_density_ratio_critic_stays_below_log_k(mi: float) -> None:
    values = _true_critic_values(mi)
    assert max(values["infonce"]) < math.log(128)
    assert sum(values["infonce"]) / len(values["infonce"]) < mi  # a lower bound, strictly here


def test_smile_above_log_k_is_an_estimate_not_a_saturated_bound() -> None:
    """SMILE has no log K ceiling (its partition term is clipped, not bounded by K), so a value above
    log K is a number to read with its interval, never flagged as stuck at a ceiling."""
    from infomin_cli.mi.synthetic import estimate_synthetic
    from infomin_cli.mi.train import CriticSpec

    estimate, _ = estimate_synthetic("gaussian", 2, 4.0, "smile", CriticSpec(batch_size=4, steps=300), eval_batches=10)
    assert estimate.value > estimate.log_k  # above the ceiling an InfoNCE estimate could never pass
    assert not estimate.bounded_by_log_k and not estimate.saturated
    assert estimate.to_dict()["saturated"] is False


def test_an_infonce_estimate_above_0_9_log_k_is_saturated() -> None:
    """InfoNCE's value is at most log K: with the true density-ratio critic at 8 nats and K = 16 it
    sits at the ceiling, and is flagged."""
    from infomin_cli.mi.estimators import BOUNDED_BY_LOG_K
    from infomin_cli.mi.report import from_batches

    g, rho = torch.Generator().manual_seed(0), mi_to_rho(8.0, 2)
    values = []
    for _ in range(5):
        x, y = sample_gaussian(16, 2, rho, g)
        values.append(float(infonce(gaussian_log_ratio(x.double(), y.double(), rho))))
    estimate = from_batches("infonce", values, 16, bounded_by_log_k="infonce" in BOUNDED_BY_LOG_K)
    assert estimate.value > 0.9 * math.log(16) and estimate.saturated
