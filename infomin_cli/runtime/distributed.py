"""Several processes, one run: torchrun's environment -> a process group, and the collectives the
objectives need. With one process every helper here is a no-op that returns its input, so the
single-process trainer is the same code and gives the same numbers as before.

torchrun (and a SLURM job that runs torchrun) sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; `setup` reads them once, joins the group (NCCL on CUDA, gloo on CPU) and pins the
process to `cuda:LOCAL_RANK`. The batch size of a run is the *global* batch (the paper's 256 on 8
GPUs): each rank encodes `batch_size / world` samples, so a run's config, hash, steps per epoch and
learning-rate schedule do not depend on how many GPUs trained it.

Gathering with gradient (`gather_with_grad`) is the `GatherLayer` of VISSL, solo-learn and lightly:
forward all-gathers; backward sums the gradient of the gathered tensor over every rank
(all-reduce) and returns this rank's slice. Returning only the local slice of the local gradient,
as many ad-hoc copies do, drops the terms through which this rank's embeddings act as negatives
in the other ranks' losses; tests/test_distributed.py shows such a copy disagreeing with one
process.
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from infomin_cli.errors import InfominError

TIMEOUT = datetime.timedelta(minutes=30)  # a rank that waits longer than this for the others gives up


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes files and prints; the others train silently."""
        return self.rank == 0


def env_world_size() -> int:
    """WORLD_SIZE as torchrun sets it (1 without torchrun)."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        return int(raw)
    except ValueError:
        raise InfominError(f"WORLD_SIZE={raw!r} is not a number; launch with torchrun, which sets it") from None


def ranks() -> Ranks:
    """Where this process stands: (0, 1, 0) unless a process group is up."""
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def setup(device_name: str) -> torch.device:
    """Join torchrun's process group if WORLD_SIZE > 1 (once), and pick this rank's device.

    'auto' and 'cuda' become cuda:LOCAL_RANK under torchrun; CPU ranks talk through gloo."""
    from infomin_cli.runtime.device import pick_device

    world = env_world_size()
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        device = pick_device(device_name)
        if ranks().world > 1 and device.type == "cuda" and device.index is None:
            device = torch.device("cuda", ranks().local_rank)
        return device
    missing = [name for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise InfominError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; launch with "
                           "`torchrun --nproc_per_node N -m infomin_cli pretrain ...`")
    device = pick_device(device_name)
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise InfominError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices are "
                               "visible; lower --nproc_per_node")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    pinned = {"device_id": device} if backend == "nccl" and _accepts(dist.init_process_group, "device_id") else {}
    dist.init_process_group(backend, timeout=TIMEOUT, **pinned)
    atexit.register(_teardown)
    return device


def _teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (a no-op before the group is up): e.g. until rank 0 has written the
    checkpoint that the others are about to read."""
    if ranks().world > 1:
        dist.barrier()


def check_same(value: int, what: str, device: torch.device) -> None:
    """Refuse to train when the ranks disagree on `value`, e.g. the epoch of the checkpoint each
    read (a node whose shared filesystem lags behind)."""
    if ranks().world == 1:
        return
    both = torch.tensor([value, -value], device=device)
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    if int(both[0]) != -int(both[1]):
        raise InfominError(f"the processes disagree on {what} ({-int(both[1])} to {int(both[0])}); make sure every "
                           "node sees the same run folder (a shared filesystem), then resume again")


def check_batch(batch_size: int) -> int:
    """This rank's share of the global batch; a batch that does not split evenly is refused."""
    world = ranks().world
    if batch_size % world:
        raise InfominError(f"--batch-size {batch_size} is the global batch and must split evenly over the "
                           f"{world} processes; use a multiple of {world}, e.g. {max(1, batch_size // world) * world}")
    return batch_size // world


def shard(index: torch.Tensor) -> torch.Tensor:
    """This rank's slice of one global batch of indices (the whole batch in one process)."""
    r = ranks()
    if r.world == 1:
        return index
    local = len(index) // r.world
    return index[r.rank * local : (r.rank + 1) * local]


def broadcast(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Rank `src`'s tensor on every rank (in place), so every rank agrees on e.g. the epoch's order."""
    if ranks().world > 1:
        dist.broadcast(tensor, src)
    return tensor


def view_seed(seed: int, rank: int, epoch: int) -> int:
    """Each rank's own stream of view draws per epoch, derived from (seed, rank, epoch): a resumed
    epoch redraws exactly what an uninterrupted one drew, with any number of ranks."""
    digest = hashlib.sha256(f"infomin-views/{seed}/{rank}/{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        grad = grad.contiguous()
        dist.all_reduce(grad)  # every rank's loss depends on every slice: sum their gradients
        return grad.chunk(dist.get_world_size())[dist.get_rank()]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each rank -> (world * B, ...), rank-major, differentiable; x itself in one process."""
    if ranks().world == 1:
        return x
    return _GatherWithGrad.apply(x)


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each rank -> (world * B, ...) without gradient (MoCo's keys before enqueueing)."""
    if ranks().world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of `x` over ranks (for the logged loss and CMC's Z); x in one process."""
    if ranks().world == 1:
        return x
    out = x.detach().clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def offset(batch: int) -> int:
    """Index of this rank's first sample in a gathered batch: the positives' labels are arange(B) + offset."""
    return ranks().rank * batch


@torch.no_grad()
def shuffle_across_ranks(x: torch.Tensor, generator: torch.Generator,
                         encode: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """MoCo's ShuffleBN over GPUs: gather the batch, permute it (rank 0's draw, broadcast), let each
    rank encode its slice of the shuffled batch, gather the outputs and return this rank's rows in
    their original order. A key is then normalised with statistics of other ranks' samples."""
    r = ranks()
    everything = gather(x)
    order = torch.randperm(len(everything), generator=generator, device=x.device)
    broadcast(order)
    mine = order.view(r.world, -1)[r.rank]
    encoded = gather(encode(everything[mine]))
    return encoded[order.argsort()].view(r.world, len(x), *encoded.shape[1:])[r.rank]


class ObjectiveStep(nn.Module):
    """The model and the objective as one module, so DistributedDataParallel sees every trained
    parameter (the encoders and heads, and an objective's own, e.g. the JigSaw heads) and averages
    their gradients in one bucketed all-reduce. The objective's calls into the model (MoCo's
    `embed`, the JigSaw branch's second pass through the encoder) all happen inside this one
    forward, which DDP needs."""

    def __init__(self, objective: nn.Module, model: nn.Module, views, generator: torch.Generator) -> None:
        super().__init__()
        self.objective, self.model = objective, model
        self.views, self.generator = views, generator

    def forward(self, images: torch.Tensor, index: torch.Tensor):
        return self.objective(self.model, images, self.views, self.generator, index)


def wrap(objective: nn.Module, model: nn.Module, views, generator: torch.Generator,
         device: torch.device) -> nn.Module:
    """DDP over model + objective. Buffers are synced once, at the start, not every step: MoCo's queue and CMC's banks
    are kept equal by construction (every rank enqueues the same gathered keys), and BN running
    statistics are only read by rank 0's probes."""
    step = ObjectiveStep(objective, model, views, generator)
    ids = [device.index] if device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # torch >= 2.14 names it forward_sync_buffers (and warns on the old name); older torch: broadcast_buffers
    no_sync = {"forward_sync_buffers": False} if _accepts(ddp.__init__, "forward_sync_buffers") else \
        {"broadcast_buffers": False}
    return ddp(step, device_ids=ids, **no_sync)


def _accepts(function: Callable[..., object], name: str) -> bool:
    return name in inspect.signature(function).parameters


def sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """--sync-bn: BN statistics over the global batch (torch's SyncBatchNorm runs on GPUs only)."""
    if ranks().world == 1:
        return model
    if device.type != "cuda":
        raise InfominError("--sync-bn needs CUDA (torch's SyncBatchNorm runs on GPUs only); on CPU leave it out")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)
