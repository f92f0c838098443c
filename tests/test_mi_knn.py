"""KSG (k = 3) against the closed-form MI of a 1-d Gaussian pair."""

from __future__ import annotations

import pytest
import torch

from infomin_cli.mi.knn import KSGReliabilityWarning, ksg
from infomin_cli.mi.sources import mi_to_rho, sample_gaussian


@pytest.mark.parametrize("mi", [0.5, 1.0, 2.0, 3.0, 4.0])
def test_ksg_bias_within_0_10_nats_in_1d_with_2000_samples(mi: float) -> None:
    x, y = sample_gaussian(2000, 1, mi_to_rho(mi, 1), torch.Generator().manual_seed(7))
    estimate = ksg(x.numpy(), y.numpy(), k=3)
    assert abs(estimate.value - mi) <= 0.10, f"KSG {estimate.value:.3f} vs true {mi}"


def test_ksg_warns_when_dimension_makes_it_unreliable() -> None:
    x, y = sample_gaussian(500, 20, mi_to_rho(4.0, 20), torch.Generator().manual_seed(0))
    with pytest.warns(KSGReliabilityWarning, match="unreliable"):
        estimate = ksg(x.numpy(), y.numpy())
    assert "unreliable" in estimate.note
    assert estimate.value < 4.0  # and indeed biased low there


def test_ksg_does_not_warn_in_low_dimension(recwarn: pytest.WarningsRecorder) -> None:
    x, y = sample_gaussian(300, 2, 0.5, torch.Generator().manual_seed(0))
    ksg(x.numpy(), y.numpy())
    assert not [w for w in recwarn if issubclass(w.category, KSGReliabilityWarning)]
