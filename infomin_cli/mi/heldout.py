"""Held-out I_NCE of image views: a trained run's own encoders+heads, or a fresh critic.

This is the number on the x-axis of the reverse-U, so it is reported as an `Estimate`: K, log K,
a 95 % interval over held-out batches of the test split, the same statistic on training images
(the gap shows over-fitting), and the saturation flag. With `negatives=N`, each query batch is
scored against a memory of N held-out keys (its own B positives plus N - B other test images), so
K = N and the log K ceiling rises: the way to see past a saturated in-batch estimate.

Images come from a `BatchSource` (an `ImageSet` or a bare uint8 tensor is wrapped in memory), read
in order, so the in-memory path draws exactly the batches and random numbers it always did.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from infomin_cli.data.base import ImageSet
from infomin_cli.data.source import BatchSource, as_source, iter_batches
from infomin_cli.errors import InfominError
from infomin_cli.mi.estimators import BOUNDED_BY_LOG_K, infonce
from infomin_cli.mi.report import Estimate, from_batches
from infomin_cli.mi.train import fit_critic
from infomin_cli.runtime.device import make_generator
from infomin_cli.runtime.precision import FP32, Precision, full_precision

Embedder = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Images = BatchSource | ImageSet | torch.Tensor  # a tensor: uint8 (N, C, H, W), as `dataset.test.images`


@torch.no_grad()
def _embed_all(model: Embedder, views, source: BatchSource, limit: int, chunk: int, device: torch.device, seed: int,
               precision: Precision):
    generator = make_generator(device, seed)
    z1s, z2s = [], []
    for batch in iter_batches(source, chunk, device, limit):
        with full_precision(device):
            v1, v2 = views(batch, generator)
        with precision.autocast(device):
            z1, z2 = model(v1, v2)
        z1s.append(z1.float())
        z2s.append(z2.float())
    return torch.cat(z1s), torch.cat(z2s)


@torch.no_grad()
def batch_values(
    model: Embedder,
    views,
    images: Images,
    batch_size: int,
    temperature: float,
    device: torch.device,
    n_batches: int = 50,
    negatives: int | None = None,
    seed: int = 1,
    precision: Precision = FP32,
) -> list[float]:
    """Per-batch I_NCE (nats) on `images`. In-batch: symmetric, as the runs are trained (mean of
    the v1->v2 and v2->v1 directions, each <= log B). With negatives: v1 queries against N keys."""
    source = as_source(images)
    n_batches = min(n_batches, len(source) // batch_size)
    if n_batches < 1:
        raise InfominError(f"need at least one batch of {batch_size} images, have {len(source)}")
    if negatives is not None and not batch_size <= negatives <= len(source):
        raise InfominError(
            f"--negatives {negatives} must be between the batch size {batch_size} and the {len(source)} held-out images"
        )
    pool = len(source) if negatives else n_batches * batch_size
    z1, z2 = _embed_all(model, views, source, pool, batch_size, device, seed, precision)
    generator = torch.Generator().manual_seed(seed)
    values: list[float] = []
    for b in range(n_batches):
        rows = torch.arange(b * batch_size, (b + 1) * batch_size)
        if negatives is None:
            scores = z1[rows] @ z2[rows].T / temperature
            values.append(float(0.5 * (infonce(scores) + infonce(scores.T))))
            continue
        others = torch.ones(len(z2), dtype=torch.bool)
        others[rows] = False
        candidates = others.nonzero().squeeze(1)
        extra = candidates[torch.randperm(len(candidates), generator=generator)[: negatives - batch_size]]
        keys = torch.cat([z2[rows], z2[extra.to(z2.device)]])
        values.append(float(infonce(z1[rows] @ keys.T / temperature)))
    return values


def heldout_estimate(
    model: Embedder,
    views,
    images: Images,
    batch_size: int,
    temperature: float = 1.0,
    device: torch.device | str = "cpu",
    negatives: int | None = None,
    n_batches: int = 50,
    train_images: Images | None = None,
    seed: int = 1,
    note: str = "",
    precision: Precision = FP32,
) -> Estimate:
    """Held-out I_NCE of `model(v1, v2) -> (z1, z2)` with scores z1 z2^T / temperature.

    This is the function `sweep` calls per point: `images` is the test split (a source, an
    `ImageSet` or uint8 N,C,H,W), `train_images` (optional) the pretraining images for the train
    value beside it. `precision`: the model's forward passes (the views are computed in fp32).
    """
    device = torch.device(device)
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        held = batch_values(model, views, images, batch_size, temperature, device, n_batches, negatives, seed,
                            precision)
        train = []
        if train_images is not None:
            train = batch_values(model, views, train_images, batch_size, temperature, device,
                                 min(n_batches, 10), negatives, seed, precision)
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)
    K = batch_size if negatives is None else negatives
    note = note or ("in-batch, symmetric" if negatives is None else f"memory of {negatives} held-out keys")
    return from_batches("infonce", held, K, train, None, note, bounded_by_log_k="infonce" in BOUNDED_BY_LOG_K)


def train_view_critic(
    views,
    train_images: Images,
    steps: int,
    batch_size: int,
    device: torch.device,
    seed: int = 0,
    lr: float = 1e-3,
    on_step: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """A fresh separable conv critic trained with InfoNCE on views of `train_images` (an in-memory
    set is moved to the device once; a streaming source hands out each sampled batch)."""
    from infomin_cli.mi.critics import ViewCritic

    torch.manual_seed(seed)
    critic = ViewCritic(tuple(views.channels)).to(device)
    view_generator = make_generator(device, seed)
    source = as_source(train_images, device)

    def sampler(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(source), (n,), generator=generator)
        return views(source.batch(index, device), view_generator)

    fit_critic(critic, sampler, "infonce", steps, batch_size, lr, torch.Generator().manual_seed(seed), on_step=on_step)
    return critic.eval()


def critic_as_embedder(critic: nn.Module) -> Embedder:
    """A `ViewCritic` as `model(v1, v2) -> (z1, z2)`; score with `temperature=critic.temperature`."""
    return critic.embed


def describe(estimate: Estimate) -> str:
    ceiling = "SATURATED (> 0.9 log K)" if estimate.saturated else "below 0.9 log K"
    return (f"I_NCE {estimate.value:.3f} {estimate.unit} [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}], "
            f"K={estimate.K}, log K={estimate.log_k:.3f}, {ceiling}")
