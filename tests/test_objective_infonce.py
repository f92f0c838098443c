"""In-batch InfoNCE: I_NCE = log K - L_NCE, bounded by log K, symmetric in the two views."""

import math

import torch
import torch.nn.functional as F

from infomin_cli.objectives import info_nce


def test_i_nce_never_exceeds_log_k():
    g = torch.Generator().manual_seed(0)
    for k in (2, 16, 128):
        for _ in range(20):
            z1 = F.normalize(torch.randn(k, 8, generator=g), dim=1)
            z2 = F.normalize(torch.randn(k, 8, generator=g), dim=1)
            out = info_nce(z1, z2, temperature=0.01)
            assert out.k == k and float(out.i_nce) <= math.log(k) + 1e-6


def test_identical_views_at_low_temperature_approach_log_k():
    z = F.normalize(torch.eye(64), dim=1)
    out = info_nce(z, z, temperature=0.01)
    assert abs(float(out.i_nce) - math.log(64)) < 1e-3


def test_unrelated_views_give_about_zero():
    g = torch.Generator().manual_seed(1)
    z1 = F.normalize(torch.randn(512, 64, generator=g), dim=1)
    z2 = F.normalize(torch.randn(512, 64, generator=g), dim=1)
    assert abs(float(info_nce(z1, z2, temperature=1.0).i_nce)) < 0.05


def test_loss_is_symmetric_in_the_views():
    g = torch.Generator().manual_seed(2)
    z1, z2 = (F.normalize(torch.randn(32, 16, generator=g), dim=1) for _ in range(2))
    assert torch.allclose(info_nce(z1, z2, 0.1).loss, info_nce(z2, z1, 0.1).loss)
