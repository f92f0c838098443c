"""A linear classifier on frozen features, trained on the device.

Features are standardised with the training split's statistics (the paper's large-lr SGD recipe
exists to cope with unnormalised features; standardising lets one Adam setting serve every layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from infomin_cli.evaluate.fit import fit
from infomin_cli.runtime.schedule import cosine


def train_linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                       epochs: int = 100, lr: float = 1e-2, weight_decay: float = 5e-4, batch_size: int = 256,
                       seed: int = 0, progress: Callable[[int, int, float], None] | None = None) -> float:
    """Returns top-1 accuracy (%) on the test split. `progress(epoch, epochs, loss)` after each epoch."""
    mean, std = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    generator = torch.Generator(device=train_x.device).manual_seed(seed)
    layer = torch.nn.Linear(train_x.shape[1], classes).to(train_x.device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = cosine(optimizer, epochs * math.ceil(len(train_x) / batch_size))

    def batches():
        perm = torch.randperm(len(train_x), device=train_x.device, generator=generator)
        return perm.split(batch_size)

    def report(epoch: int, losses: list[torch.Tensor]) -> None:
        if progress is not None:
            progress(epoch, epochs, float(torch.stack(losses).mean()) if losses else float("nan"))

    fit(layer, optimizer, schedule, epochs, batches, lambda idx: F.cross_entropy(layer(train_x[idx]), train_y[idx]),
        end_epoch=report)
    with torch.no_grad():
        return float((layer(test_x).argmax(1) == test_y).float().mean()) * 100
