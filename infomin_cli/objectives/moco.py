"""MoCo (He et al.; the paper's C.2 curves and C.3's InfoMin Aug.): a momentum key encoder and a queue.

Read top to bottom, one step is:
1. the query q = f_q(v1) with gradient; the key k = f_k(v2) without, from a momentum copy of
   the model (encoder and head), with the batch shuffled across BN groups (below);
2. logits = [q.k, q.queue] / tau, the positive at index 0: a (queue + 1)-way classification, so
   K = queue + 1 and I_NCE = log K - L;
3. after the optimiser step: f_k <- m f_k + (1 - m) f_q (one foreach lerp, no host sync) and the
   batch's keys replace the oldest queue entries (an index_copy at a device-side pointer).

The queue is stored L2-normalised and, with its pointer, is a buffer: a checkpoint holds it and a
resumed run continues with the same negatives.

Shuffling BN on one device. With several GPUs, MoCo shuffles the keys across GPUs so that a query
and its key are normalised with statistics of different samples; otherwise the model can find its
positive from the batch statistics alone. One device has one batch, so we make the groups
ourselves: the queries are normalised over the whole batch, the keys are encoded in
`SHUFFLE_BN_GROUPS` groups of a seeded random permutation and put back in order. No key then
shares its BN statistics with its query's, which is the property ShuffleBN exists to give.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.errors import InfominError
from infomin_cli.objectives.base import OBJECTIVES, Objective, Option, StepOutput, i_nce_of, make_views
from infomin_cli.objectives.infonce import JIGSAW_BETA, jigsaw_branch_for

SHUFFLE_BN_GROUPS = 4


def check_queue(queue: int, batch_size: int) -> None:
    """MoCo overwrites whole batches of the queue at a time, so the queue must hold whole batches."""
    if queue < batch_size or queue % batch_size:
        raise InfominError(f"--queue {queue} must be a multiple of --batch-size {batch_size} (MoCo enqueues whole "
                           f"batches); e.g. --queue {max(1, round(queue / batch_size)) * batch_size}")


@OBJECTIVES.register("moco")
class MoCo(Objective):
    summary = "momentum key encoder + a queue of negatives (K = queue + 1); ShuffleBN over groups of one batch"
    paper = "MoCo (He et al. 2020): the paper's C.2 curves (65,536 negatives) and C.3's InfoMin Aug."
    options = (
        Option("queue", 65536, "negatives kept in the queue (a multiple of the batch size)"),
        Option("key-momentum", 0.999, "momentum m of the key encoder: f_k <- m f_k + (1 - m) f_q"),
        Option("jigsaw-beta", JIGSAW_BETA, "weight of the JigSaw loss with level=infomin+jigsaw"),
    )
    supports_jigsaw = True

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int) -> None:
        super().__init__()
        check_queue(config.queue, config.batch_size)
        self.temperature = config.temperature
        self.m = config.key_momentum
        self.beta = config.jigsaw_beta
        self.key_model = copy.deepcopy(model)
        for p in self.key_model.parameters():
            p.requires_grad_(False)
        feat_dim = config.feat_dim
        generator = torch.Generator().manual_seed(config.seed)  # the initial queue: random unit vectors
        self.register_buffer("queue", F.normalize(torch.randn(config.queue, feat_dim, generator=generator), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.jigsaw = jigsaw_branch_for(model, views, config)
        self._keys: torch.Tensor | None = None

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        params = [*model.parameters(), *(self.jigsaw.parameters() if self.jigsaw is not None else ())]
        return [{"params": params}]

    @torch.no_grad()
    def encode_keys(self, v2: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Keys of v2 from the momentum model, BN statistics taken over shuffled groups."""
        order = torch.randperm(len(v2), generator=generator, device=v2.device)
        groups = [self.key_model.embed(chunk, 1) for chunk in v2[order].chunk(SHUFFLE_BN_GROUPS)]
        return torch.cat(groups)[order.argsort()]

    def forward(self, model, images, views, generator, index) -> StepOutput:
        v1, v2 = make_views(views, images, generator)
        self.key_model.train()
        with self.autocast(images.device):
            q = model.embed(v1, 0)
            k = self.encode_keys(v2, generator)
        q, k = q.float(), k.float()
        negatives = self.queue  # enqueued only in after_step, once backward has used it
        loss = self.contrast(q, k, negatives)
        self._keys = k.detach()
        out = StepOutput(loss, i_nce_of(loss, self.train_k()), self.train_k())
        if self.jigsaw is None:
            return out
        with self.autocast(images.device):
            q_jig = self.jigsaw(model.encoders[0], views.jigsaw_tiles(images, generator), generator).float()
        total = (1 - self.beta) * loss + self.beta * self.contrast(q_jig, k, negatives)
        return StepOutput(total, out.i_nce, out.k)

    def contrast(self, q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        positive = (q * k).sum(dim=1, keepdim=True)
        logits = torch.cat([positive, q @ negatives.T], dim=1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        online = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(list(self.key_model.parameters()), online, 1.0 - self.m)
        keys, self._keys = self._keys, None
        slots = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % len(self.queue)
        self.queue.index_copy_(0, slots, keys.to(self.queue.dtype))
        self.queue_ptr.add_(len(keys)).remainder_(len(self.queue))

    def train_k(self) -> int:
        return len(self.queue) + 1
