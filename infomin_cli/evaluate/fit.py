"""The one small training loop the probes share: the linear probe, the segmentation decoder, Moving
MNIST's supervised reference and the C.2 linear protocol.

Each probe says what an epoch's batches are (it owns its order and its generator) and what a
batch's loss is; the loop does the rest the same way for all of them: the model in training mode,
zero_grad / backward / step, the schedule stepped after every batch (a cosine) or after every
epoch (C.2's milestones), and an end-of-epoch hook for checkpoints and progress. A batch whose
loss is None is skipped, but still counts on a per-step schedule (a crop with no labelled pixel),
so the schedule's length never depends on the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch import nn

Batch = TypeVar("Batch")


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LRScheduler,
        epochs: int, batches: Callable[[], Iterable[Batch]], loss: Callable[[Batch], torch.Tensor | None], *,
        start: int = 0, per_epoch_schedule: bool = False,
        end_epoch: Callable[[int, list[torch.Tensor]], None] | None = None) -> list[torch.Tensor]:
    """Train `model` from epoch `start` to `epochs`; returns the last epoch's (detached) batch losses.

    `batches()` is called once at the start of every epoch (draw the epoch's order there);
    `end_epoch(finished_epochs, losses)` runs after each one."""
    losses: list[torch.Tensor] = []
    for epoch in range(start, epochs):
        model.train()
        losses = []
        for batch in batches():
            value = loss(batch)
            if value is not None:
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
                losses.append(value.detach())
            if not per_epoch_schedule:
                schedule.step()
        if per_epoch_schedule:
            schedule.step()
        if end_epoch is not None:
            end_epoch(epoch + 1, losses)
    return losses
