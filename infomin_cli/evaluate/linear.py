"""A linear classifier on frozen features, trained on the device.

Features are standardised with the training split's statistics (the paper's large-lr SGD recipe
exists to cope with unnormalised features; standardising lets one Adam setting serve every layer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def train_linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                       epochs: int = 100, lr: float = 1e-2, weight_decay: float = 5e-4, batch_size: int = 256,
                       seed: int = 0) -> float:
    """Returns top-1 accuracy (%) on the test split."""
    mean, std = train_x.mean(0, keepdim=True), train_x.std(0, keepdim=True).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    generator = torch.Generator(device=train_x.device).manual_seed(seed)
    layer = torch.nn.Linear(train_x.shape[1], classes).to(train_x.device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(train_x) / batch_size)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    for _ in range(epochs):
        perm = torch.randperm(len(train_x), device=train_x.device, generator=generator)
        for start in range(0, len(train_x), batch_size):
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(layer(train_x[idx]), train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        return float((layer(test_x).argmax(1) == test_y).float().mean()) * 100
