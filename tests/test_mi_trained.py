"""Trained separable critics on correlated Gaussians: the issue's protocol and acceptance ranges.

Protocol: d = 20, separable critic 2 x 256 hidden, 32-d embedding, Adam lr 5e-4, K = 128,
1,500 steps, 50 held-out batches. Each (estimator, MI) critic is trained once per session.
"""

from __future__ import annotations

import functools
import math

import pytest

from infomin_cli.mi.report import Estimate
from infomin_cli.mi.sources import get_source
from infomin_cli.mi.train import CriticSpec, train_and_estimate

SPEC = CriticSpec(kind="separable", hidden=256, layers=2, embed_dim=32, lr=5e-4, batch_size=128, steps=1500)
DIM = 20




@functools.cache
def trained(estimator: str, mi: float) -> Estimate:
    return train_and_estimate(get_source("gaussian").make(mi, DIM), estimator, DIM, SPEC, seed=0, true_mi=mi)


def test_trained_infonce_at_0_nats_is_within_0_05() -> None:
    assert abs(trained("infonce", 0.0).value) <= 0.05


def test_trained_infonce_at_2_nats_is_in_1_60_to_1_95() -> None:
    assert 1.60 <= trained("infonce", 2.0).value <= 1.95


def test_trained_infonce_at_6_nats_is_in_3_85_to_log_128_and_flagged_saturated() -> None:
    estimate = trained("infonce", 6.0)
    assert 3.85 <= estimate.value <= math.log(128)
    assert estimate.K == 128 and estimate.log_k == pytest.approx(math.log(128))
    assert estimate.saturated == (estimate.value > 0.9 * math.log(128))


def test_trained_smile_tau5_at_2_nats_is_in_1_6_to_2_1() -> None:
    assert 1.6 <= trained("smile", 2.0).value <= 2.1


def test_trained_smile_tau5_at_6_nats_is_in_5_5_to_6_5() -> None:
    assert 5.5 <= trained("smile", 6.0).value <= 6.5


def test_trained_nwj_at_6_nats_is_finite_and_reports_its_spread() -> None:
    estimate = trained("nwj", 6.0)
    assert math.isfinite(estimate.value) and math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high)
    assert estimate.ci_high > estimate.ci_low  # the variance is reported, not hidden
    print(f"NWJ at 6 nats: {estimate.value:.3f} [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]")


@pytest.mark.slow
def test_shuffled_null_interval_covers_0_in_at_least_18_of_20_seeds() -> None:
    """20 seeds of the full pipeline (fresh critic, full protocol, 50 held-out batches each).

    Marked slow (~20 trainings). A cheaper variant does not test the same claim: one critic scored
    on 20 evaluation seeds covered 0 in only 15-18/20, and 100-step critics in 7/20, because a
    lower bound with an imperfect critic is slightly *negative* at the null (-1e-3 to -1e-4 nats)
    and 50 x 128 held-out pairs resolve that. Only well-trained critics are close enough to 0.
    """
    sampler = get_source("shuffled").make(2.0, DIM)
    covered = 0
    for seed in range(20):
        estimate = train_and_estimate(sampler, "infonce", DIM, SPEC, seed=seed, true_mi=0.0)
        covered += estimate.ci_low <= 0.0 <= estimate.ci_high
    assert covered >= 18, f"interval covered 0 in only {covered}/20 seeds"
