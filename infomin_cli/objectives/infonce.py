"""In-batch InfoNCE (symmetric), the objective of CMC/SimCLR with K = batch size.

L_NCE = mean over both directions of -log softmax(z1 z2^T / tau)_ii. Since each row is a K-way
classification of the positive among K candidates, L_NCE >= 0 and I_NCE = log K - L_NCE <= log K:
the estimate can never exceed log K, which is why small batches saturate it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.objectives.base import OBJECTIVES, Objective, StepOutput, i_nce_of, make_views
from infomin_cli.objectives.jigsaw import JIGSAW_BETA, JigsawBranch, make_tiles
from infomin_cli.runtime import distributed
from infomin_cli.views.base import HasJigsaw


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> StepOutput:
    """This rank's rows of the symmetric loss over the batch of every rank (K = world x batch).

    Each rank's queries meet the gathered keys, with gradient (runtime/distributed.py), so the mean
    of the ranks' losses is the one-process loss of the whole batch, and so are its gradients."""
    z1_all, z2_all = distributed.gather_with_grad(z1), distributed.gather_with_grad(z2)
    logits = (z1 @ z2_all.T).float() / temperature
    # the other direction: in one process the transpose (as always); with ranks, this rank's z2 rows
    logits_back = logits.T if z1_all is z1 else (z2 @ z1_all.T).float() / temperature
    target = torch.arange(len(z1), device=z1.device) + distributed.offset(len(z1))
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits_back, target))
    return StepOutput(loss, i_nce_of(loss, len(z1_all)), len(z1_all))


def jigsaw_branch_for(model: nn.Module, views, config: Any) -> JigsawBranch | None:
    """A JigSaw head when the views offer tiles (level=infomin+jigsaw), else None."""
    if not (isinstance(views, HasJigsaw) and views.has_jigsaw):
        return None
    return JigsawBranch(model.encoders[0].out_dim, config.feat_dim, config.head)


@OBJECTIVES.register("infonce")
class InfoNCE(Objective):
    summary = "in-batch symmetric InfoNCE: every other sample of the batch is a negative (K = batch size, over all GPUs)"
    paper = "CMC / SimCLR; the paper's small-scale runs"
    options = (JIGSAW_BETA,)
    supports_jigsaw = True

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int) -> None:
        super().__init__()
        self.temperature = config.temperature
        self.batch_size = config.batch_size
        self.beta = self.settings(config).jigsaw_beta
        self.jigsaw = jigsaw_branch_for(model, views, config)

    def forward(self, model, images, views, generator, index) -> StepOutput:
        v1, v2 = make_views(views, images, generator)
        with self.autocast(images.device):
            z1, z2 = model(v1, v2)
        out = info_nce(z1, z2, self.temperature)
        if self.jigsaw is None:
            return out
        tiles = make_tiles(views, images, generator)
        with self.autocast(images.device):
            q_jig = self.jigsaw(model.encoders[0], tiles, generator)
        logits = (q_jig @ distributed.gather_with_grad(z2).T).float() / self.temperature
        target = torch.arange(len(z1), device=z1.device) + distributed.offset(len(z1))
        jig_loss = F.cross_entropy(logits, target)
        loss = (1 - self.beta) * out.loss + self.beta * jig_loss
        return StepOutput(loss, out.i_nce, out.k)

    def train_k(self) -> int:
        return self.batch_size
