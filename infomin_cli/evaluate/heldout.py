"""Held-out I_NCE: the trained critic scored on views of images it never trained on.

Reported with a 95 % interval over evaluation batches (normal approximation of the mean), because
one number without its spread and its ceiling log K cannot be compared across runs.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from infomin_cli.engine.device import autocast, make_generator
from infomin_cli.objectives import info_nce


@torch.no_grad()
def heldout_i_nce(model, views, images: torch.Tensor, batch_size: int, temperature: float,
                  device: torch.device, seed: int = 1, max_batches: int = 50) -> dict[str, Any]:
    was_training = model.training
    model.eval()
    generator = make_generator(device, seed)
    values = []
    for start in range(0, len(images) - batch_size + 1, batch_size):
        if len(values) >= max_batches:
            break
        batch = images[start : start + batch_size].to(device)
        v1, v2 = views(batch, generator)
        with autocast(device):
            z1, z2 = model(v1, v2)
        values.append(float(info_nce(z1.float(), z2.float(), temperature).i_nce))
    model.train(was_training)
    if not values:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "batches": 0}
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
    half = 1.96 * sd / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "batches": len(values)}
