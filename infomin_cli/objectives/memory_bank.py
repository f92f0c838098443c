"""CMC's memory bank (Tian et al., CMC; the paper's B.1-B.3 framework): one bank per view.

Read top to bottom, one step is:
1. z1 = f_1(v1), z2 = f_2(v2) for the batch, whose dataset indices are `index`;
2. for each sample, K + 1 bank indices: its own first, then K drawn uniformly with replacement
   (as CMC's alias sampler with uniform weights, so a draw may hit the sample itself);
3. view 1 is scored against bank 2's entries and view 2 against bank 1's: the positive comes
   from memory (the other view's embedding from an earlier visit), not from this batch;
4. softmax variant: cross-entropy with the positive at index 0, a (K + 1)-way classification, so
   I_NCE = log(K + 1) - L exactly. NCE variant: CMC's binary noise-contrastive loss on
   exp(s/tau)/Z, Z fixed from the first batch; its I_NCE is read from the same scores' softmax;
5. after the optimiser step, each sample's entry moves halfway to its new embedding:
   w <- normalise(0.5 w + 0.5 z).

The loss is the mean of the two views' losses (CMC sums them: a factor 2 in the SGD learning rate).
Scores are computed as z @ bank^T and then gathered while that B x N matrix is small (the
embedded data), and as gathered rows . z otherwise (ImageNet): the same numbers, whichever is cheaper.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.objectives.base import OBJECTIVES, Objective, StepOutput, i_nce_of, make_views
from infomin_cli.options import Option
from infomin_cli.ranges import MANY
from infomin_cli.runtime import distributed

BANK_MOMENTUM = 0.5
VARIANTS = ("softmax", "nce")
EPS = 1e-7
FULL_SCORE_LIMIT = 2**25  # entries of a B x N score matrix (128 MB in float32) scored whole


@OBJECTIVES.register("memory-bank")
class MemoryBank(Objective):
    summary = "CMC memory bank: one bank per view, K negatives drawn per sample, positive from memory (K = negatives + 1)"
    paper = "CMC (Tian et al. 2019): the framework of the paper's B.1-B.3 (16,384 negatives)"
    options = (
        Option("bank_negatives", 16384, "negatives drawn from the bank per sample", MANY, paper=16384),
        Option("bank_loss", "softmax", "softmax (cross-entropy over K + 1) or nce (CMC's NCE with a fixed Z)",
               choices=VARIANTS),
    )

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int) -> None:
        super().__init__()
        self.temperature = config.temperature
        settings = self.settings(config)
        self.negatives = settings.bank_negatives
        self.variant = settings.bank_loss
        generator = torch.Generator().manual_seed(config.seed)
        for name in ("bank1", "bank2"):
            self.register_buffer(name, F.normalize(torch.randn(n_samples, config.feat_dim, generator=generator), dim=1))
        self.register_buffer("z_norm", torch.full((2,), float("nan")))  # NCE's Z per view, fixed on the first batch
        self._pending: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._z_checked: set[int] = set()  # views whose Z is known to be set: one host sync per view and run

    def candidates(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, K + 1) bank indices: each sample's own entry first, then K uniform draws."""
        drawn = torch.randint(len(self.bank1), (len(index), self.negatives), generator=generator, device=index.device)
        return torch.cat([index.unsqueeze(1), drawn], dim=1)

    def scores(self, z: torch.Tensor, bank: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """z_i . bank[idx_ij] for every candidate j, (B, K + 1).

        Scoring the whole bank with one matmul and gathering is far cheaper than gathering
        B x (K + 1) rows of the bank (a 268 MB copy at K = 4096 here) while the B x N score matrix
        is small; CMC's row gather is kept for banks too large for that (ImageNet)."""
        if len(z) * len(bank) <= FULL_SCORE_LIMIT:
            return (z @ bank.T).gather(1, idx)
        return torch.bmm(bank[idx], z.unsqueeze(2)).squeeze(2)

    def forward(self, model, images, views, generator, index) -> StepOutput:
        v1, v2 = make_views(views, images, generator)
        with self.autocast(images.device):
            z1, z2 = model(v1, v2)
        z1, z2 = z1.float(), z2.float()
        idx = self.candidates(index.to(z1.device), generator)
        s1 = self.scores(z1, self.bank2, idx) / self.temperature  # view 1 against view 2's memory
        s2 = self.scores(z2, self.bank1, idx) / self.temperature
        target = torch.zeros(len(idx), dtype=torch.long, device=idx.device)
        softmax = 0.5 * (F.cross_entropy(s1, target) + F.cross_entropy(s2, target))
        loss = softmax if self.variant == "softmax" else 0.5 * (self.nce(s1, 0) + self.nce(s2, 1))
        self._pending = (index.to(z1.device), z1.detach(), z2.detach())
        k = self.train_k()
        return StepOutput(loss, i_nce_of(softmax, k), k)

    def nce(self, logits: torch.Tensor, view: int) -> torch.Tensor:
        """CMC's NCE: data vs noise (uniform over the bank) on P = exp(s / tau) / Z."""
        p = logits.exp()
        if view not in self._z_checked:
            if torch.isnan(self.z_norm[view]):  # the first batch of a fresh run (a resumed one has it)
                self.z_norm[view] = distributed.mean(p.detach().mean()) * len(self.bank1)  # equal on every rank
            self._z_checked.add(view)
        p = p / self.z_norm[view].clone()  # a copy: the next view may still set its own Z in place
        noise = self.negatives / len(self.bank1)  # K * P_noise
        positive = torch.log(p[:, 0] / (p[:, 0] + noise + EPS))
        negative = torch.log(noise / (p[:, 1:] + noise + EPS)).sum(dim=1)
        return -(positive + negative).mean()

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        index, z1, z2 = (distributed.gather(t) for t in self._pending)  # every rank updates every entry
        self._pending = None
        for bank, z in ((self.bank1, z1), (self.bank2, z2)):
            bank.index_copy_(0, index, F.normalize(BANK_MOMENTUM * bank[index] + (1 - BANK_MOMENTUM) * z, dim=1))

    def train_k(self) -> int:
        return self.negatives + 1

    def cautions(self, n_samples: int) -> list[str]:
        if self.negatives < n_samples:
            return []
        return [f"--bank-negatives {self.negatives} draws at least as many negatives as the {n_samples} training "
                "images: each sample meets most of the data, many of it twice (CMC draws 16,384 of 1.28 M)"]
