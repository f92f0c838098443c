"""SimCLR's NT-Xent: every one of the 2B views finds its partner among the other 2B - 1 (K = 2B - 1)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from infomin_cli.objectives.simclr import nt_xent


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """Algorithm 1 of the SimCLR paper, written out in float64 with its own loops: z_{2k-1}, z_{2k}
    are the two views of sample k; s_ij the cosine; l(i, j) = -log exp(s_ij / tau) /
    sum_{k != i} exp(s_ik / tau); L = 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)]."""
    n = len(z1)
    z = [None] * (2 * n)
    for k in range(n):
        z[2 * k], z[2 * k + 1] = z1[k].double(), z2[k].double()

    def s(i: int, j: int) -> torch.Tensor:
        return torch.dot(z[i], z[j]) / (z[i].norm() * z[j].norm())

    def loss(i: int, j: int) -> torch.Tensor:
        denominator = sum(torch.exp(s(i, k) / tau) for k in range(2 * n) if k != i)
        return -torch.log(torch.exp(s(i, j) / tau) / denominator)

    return sum(loss(2 * k, 2 * k + 1) + loss(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


def embeddings(batch: int, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z1 = F.normalize(torch.randn(batch, dim, generator=g), dim=1)
    z2 = F.normalize(z1 + 0.5 * torch.randn(batch, dim, generator=g), dim=1)
    return z1, z2


@pytest.mark.parametrize(("batch", "tau"), [(2, 0.5), (5, 0.1), (16, 0.07)])
def test_the_loss_is_the_papers_nt_xent(batch, tau):
    z1, z2 = embeddings(batch)
    assert float(nt_xent(z1, z2, tau).loss) == pytest.approx(float(reference_nt_xent(z1, z2, tau)), rel=1e-5)


def test_k_is_2b_minus_1_and_i_nce_never_exceeds_log_k():
    z1, z2 = embeddings(8)
    for tau in (0.01, 0.1, 1.0):
        out = nt_xent(z1, z1.clone(), tau)  # perfectly aligned views: the bound at its tightest
        assert out.k == 15 and float(out.i_nce) <= math.log(15) + 1e-6
    assert float(nt_xent(z1, z2, 0.1).i_nce) <= math.log(15)


def test_same_view_negatives_count_unlike_cmc_infonce():
    """The other samples' embeddings of the same view are negatives too: moving one of them onto an
    anchor raises NT-Xent but leaves CMC's in-batch InfoNCE (view 1 against view 2 only) unchanged."""
    from infomin_cli.objectives.infonce import info_nce

    z1, z2 = embeddings(6)
    crowded = z1.clone()
    crowded[1] = z1[0]
    assert float(nt_xent(crowded, z2, 0.1).loss) > float(nt_xent(z1, z2, 0.1).loss)
    only_cross = info_nce(z1[:1], z2[:1], 0.1).loss
    assert float(info_nce(crowded[:1], z2[:1], 0.1).loss) == float(only_cross)


def test_the_gradient_matches_the_reference():
    z1, z2 = embeddings(4)
    a1, a2 = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    nt_xent(F.normalize(a1, dim=1), F.normalize(a2, dim=1), 0.2).loss.backward()  # the heads' L2 normalisation
    b1, b2 = z1.double().requires_grad_(), z2.double().requires_grad_()
    reference_nt_xent(b1, b2, 0.2).backward()
    torch.testing.assert_close(a1.grad.double(), b1.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a2.grad.double(), b2.grad, rtol=1e-4, atol=1e-6)


def test_pretrain_trains_it_and_records_k_train(tmp_path, tiny_config):
    from infomin_cli.pipeline import train_run

    summary = train_run(tiny_config.merged({"objective": "simclr", "epochs": 1}), tmp_path / "run", progress=False)
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["K_train"] == written["K_train"] == 2 * tiny_config.batch_size - 1
    assert math.isfinite(written["loss"]) and written["i_nce_train"] <= math.log(written["K_train"])
