"""SimCLR's NT-Xent (Chen et al. 2020): each of the 2B embeddings of a batch finds its partner
among the other 2B - 1, so K = 2B - 1 and I_NCE = log(2B - 1) - L.

Where `infonce` (CMC's form) contrasts a view-1 embedding only with the batch's view-2
embeddings (K = B), NT-Xent also counts the other samples' embeddings of the *same* view as
negatives: for z_i the candidates are every z_k, k != i, of the concatenated batch
[z1; z2], and the positive is its other view. The loss is the mean over all 2B anchors of
-log softmax(sim(z_i, z_k) / tau) at the positive, sim the cosine (the heads L2-normalise), as
lightly's `NTXentLoss` and solo-learn's `simclr_loss_func` compute it.

Several processes: every rank's embeddings are gathered with gradient (runtime/distributed.py)
and this rank's 2B anchors meet all 2·world·B candidates, so K = 2·world·B - 1 and the mean of
the ranks' losses is the one-process loss of the global batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.objectives.base import OBJECTIVES, Objective, StepOutput, i_nce_of, make_views
from infomin_cli.runtime import distributed


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> StepOutput:
    """This rank's 2B anchors of NT-Xent over the batch of every rank (K = 2·world·B - 1)."""
    z1_all, z2_all = distributed.gather_with_grad(z1), distributed.gather_with_grad(z2)
    batch, everyone = len(z1), len(z1_all)
    candidates = torch.cat([z1_all, z2_all])
    anchors = torch.cat([z1, z2])
    logits = (anchors @ candidates.T).float() / temperature
    mine = torch.arange(batch, device=z1.device) + distributed.offset(batch)
    own = torch.cat([mine, mine + everyone])  # each anchor's own column: never its own candidate
    partner = torch.cat([mine + everyone, mine])
    logits = logits.masked_fill(F.one_hot(own, 2 * everyone).bool(), -torch.inf)
    loss = F.cross_entropy(logits, partner)
    k = 2 * everyone - 1
    return StepOutput(loss, i_nce_of(loss, k), k)


@OBJECTIVES.register("simclr")
class SimCLR(Objective):
    summary = "NT-Xent: each of the 2B views of a batch against the other 2B - 1 (K = 2 x batch - 1, over all GPUs)"
    paper = "SimCLR (Chen et al. 2020): the paper compares with it in C.3 (Tables 1-2) and takes its jitter x = 1.0 (C.2)"

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int) -> None:
        super().__init__()
        self.temperature = config.temperature
        self.batch_size = config.batch_size

    def forward(self, model, images, views, generator, index) -> StepOutput:
        v1, v2 = make_views(views, images, generator)
        with self.autocast(images.device):
            z1, z2 = model(v1, v2)
        return nt_xent(z1, z2, self.temperature)

    def train_k(self) -> int:
        return 2 * self.batch_size - 1
