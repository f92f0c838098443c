"""MoCo (He et al.; the paper's C.2 curves and C.3's InfoMin Aug.): a momentum key encoder and a queue.

Read top to bottom, one step is:
1. the query q = f_q(v1) with gradient; the key k = f_k(v2) without, from a momentum copy of
   the model (encoders and heads), with the batch shuffled across BN groups (below);
2. logits = [q.k, q.queue] / tau, the positive at index 0: a (queue + 1)-way classification, so
   K = queue + 1 and I_NCE = log K - L;
3. after the optimiser step: f_k <- m f_k + (1 - m) f_q (one foreach lerp, no host sync) and the
   batch's keys replace the oldest queue entries (an index_copy at a device-side pointer).

With one shared encoder (augmentation views) this is MoCo as published: one direction, one queue.
With one encoder per view (CMC's colour splits) the single direction would train only the first
encoder against a random second one, so each view queries the other's keys, each direction with
its own queue, and the loss is the mean of the two (CMC's symmetric contrast, MoCo-style memory).
`--symmetric` asks for the same two directions with a shared encoder, as solo-learn's MoCo v2+
and MoCo v3 do: each image then gives the online encoder two queries a step instead of one. On
8,000 embedded images and a few hundred steps that is what lets MoCo learn at all
(docs/figures/moco-trials.md).

The queue is stored L2-normalised and, with its pointer and the dataset index of every queued key,
is a buffer: a checkpoint holds it and a resumed run continues with the same negatives.

A sample's own earlier keys are masked out of its negatives. MoCo on ImageNet queues 65,536 of
1.28M images (5 %), so a stale key of the query's own image is rare; on 8,000 embedded images a
4,096 queue holds half the data, and about one sample in seven would meet its own earlier key,
under another augmentation, as a negative: a false negative that punishes the very invariance the
views teach. Masking it costs one (B x queue) comparison; K is then queue + 1 minus the masked
entries (at most one per sample here), reported as queue + 1.

Shuffling BN on one device. With several GPUs, MoCo shuffles the keys across GPUs so that a query
and its key are normalised with statistics of different samples; otherwise the model can find its
positive from the batch statistics alone. One device has one batch, so we make the groups
ourselves: the queries are normalised over the whole batch, the keys are encoded in
`SHUFFLE_BN_GROUPS` groups of a seeded random permutation and put back in order. No key then
shares its BN statistics with its query's, which is the property ShuffleBN exists to give.

Several processes (torchrun): the key view is first shuffled across ranks as MoCo does (gather,
rank 0's permutation, each rank encodes its slice, unshuffle; not with --sync-bn, where BN already
spans the global batch), and the keys and their dataset indices are gathered without gradient
before the enqueue, so every rank's queue holds the same global batches (runtime/distributed.py).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.errors import InfominError
from infomin_cli.objectives.base import OBJECTIVES, Objective, StepOutput, i_nce_of, make_views
from infomin_cli.objectives.infonce import jigsaw_branch_for
from infomin_cli.objectives.jigsaw import JIGSAW_BETA, make_tiles
from infomin_cli.options import Option
from infomin_cli.ranges import MANY, Range
from infomin_cli.runtime import distributed

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
        Option("queue", 65536, "negatives kept in the queue, a multiple of the batch size", MANY, paper=65536),
        Option("key_momentum", 0.999, "momentum m of the key encoder: f_k <- m f_k + (1 - m) f_q (not SGD's momentum)",
               Range(0, 1, high_open=True, hint="e.g. 0.999"), paper=0.999),
        JIGSAW_BETA,
        Option("symmetric", False, "with a shared encoder, both views query the other's keys (two queues, mean loss), "
                                   "as solo-learn's MoCo v2+ and MoCo v3"),
    )
    supports_jigsaw = True

    @classmethod
    def check(cls, config: Any, settings: Any, family: Any) -> None:
        check_queue(settings.queue, config.batch_size)

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int) -> None:
        super().__init__()
        self.temperature = config.temperature
        settings = self.settings(config)
        self.m = settings.key_momentum
        self.beta = settings.jigsaw_beta
        self.sync_bn = config.sync_bn
        self.key_model = copy.deepcopy(model)
        for p in self.key_model.parameters():
            p.requires_grad_(False)
        # (query view, key view) per direction: one for a shared encoder, both ways for split views
        # or when asked for
        self.directions = ((0, 1),) if model.shared and not settings.symmetric else ((0, 1), (1, 0))
        generator = torch.Generator().manual_seed(config.seed)  # the initial queue: random unit vectors
        shape = (len(self.directions), settings.queue, config.feat_dim)
        self.register_buffer("queue", F.normalize(torch.randn(shape, generator=generator), dim=-1))
        self.register_buffer("queue_index", torch.full(shape[:2], -1, dtype=torch.long))  # dataset index per key
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.jigsaw = jigsaw_branch_for(model, views, config)
        self._keys: list[torch.Tensor] = []
        self._index: torch.Tensor | None = None

    @torch.no_grad()
    def encode_keys(self, v: torch.Tensor, view: int, generator: torch.Generator) -> torch.Tensor:
        """Keys of one view from the momentum model, BN statistics taken over shuffled groups; with
        several GPUs (and no --sync-bn) the batch is first shuffled across them, as MoCo does."""
        if distributed.ranks().world > 1 and not self.sync_bn:
            return distributed.shuffle_across_ranks(v, generator, lambda x: self.encode_groups(x, view, generator))
        return self.encode_groups(v, view, generator)

    @torch.no_grad()
    def encode_groups(self, v: torch.Tensor, view: int, generator: torch.Generator) -> torch.Tensor:
        order = torch.randperm(len(v), generator=generator, device=v.device)
        groups = [self.key_model.embed(chunk, view) for chunk in v[order].chunk(SHUFFLE_BN_GROUPS)]
        return torch.cat(groups)[order.argsort()]

    def forward(self, model, images, views, generator, index) -> StepOutput:
        vs = make_views(views, images, generator)
        index = index.to(images.device)
        self.key_model.train()
        losses, self._keys, self._index = [], [], index
        for d, (q_view, k_view) in enumerate(self.directions):
            with self.autocast(images.device):
                q = model.embed(vs[q_view], q_view)
                k = self.encode_keys(vs[k_view], k_view, generator)
            q, k = q.float(), k.float()
            losses.append(self.contrast(q, k, d, index))  # the queue is changed only in after_step
            self._keys.append(k.detach())
        loss = torch.stack(losses).mean()
        out = StepOutput(loss, i_nce_of(loss, self.train_k()), self.train_k())
        if self.jigsaw is None:
            return out
        tiles = make_tiles(views, images, generator)
        with self.autocast(images.device):
            q_jig = self.jigsaw(model.encoders[0], tiles, generator).float()
        total = (1 - self.beta) * loss + self.beta * self.contrast(q_jig, self._keys[0], 0, index)
        return StepOutput(total, out.i_nce, out.k)

    def contrast(self, q: torch.Tensor, k: torch.Tensor, direction: int, index: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the positive key among it and the queue, the query's own old keys masked.

        Written as mean(logsumexp([pos, negatives]) - pos) so that the (B x queue) logits are made
        once and masked in place, with no concatenated copy: at 65,536 negatives that matrix is
        the step's largest tensor."""
        q = q / self.temperature
        positive = (q * k).sum(dim=1)
        negatives = q @ self.queue[direction].T  # matmul's backward needs q and the queue, not this output
        negatives.masked_fill_(self.queue_index[direction] == index[:, None], -torch.inf)
        return (torch.logaddexp(positive, torch.logsumexp(negatives, dim=1)) - positive).mean()

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        online = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(list(self.key_model.parameters()), online, 1.0 - self.m)
        keys = [distributed.gather(k) for k in self._keys]  # every rank enqueues the global batch's keys
        index, self._keys = distributed.gather(self._index), []
        slots = (self.queue_ptr + torch.arange(len(keys[0]), device=keys[0].device)) % self.queue.shape[1]
        for d, k in enumerate(keys):
            self.queue[d].index_copy_(0, slots, k.to(self.queue.dtype))
            self.queue_index[d].index_copy_(0, slots, index)
        self.queue_ptr.add_(len(keys[0])).remainder_(self.queue.shape[1])

    def train_k(self) -> int:
        return self.queue.shape[1] + 1

    def cautions(self, n_samples: int) -> list[str]:
        if self.queue.shape[1] < n_samples:
            return []
        return [f"--queue {self.queue.shape[1]} is at least the {n_samples} training images: the queue holds every "
                "image, some many times, in keys from encoders of many steps ago; MoCo queues a few % of the data "
                "(65,536 of 1.28 M)"]
