"""The one learning-rate schedule every loop here uses: cosine to zero, optionally after a linear warm-up.

The factor is clamped at the last step, so a loop that steps its schedule once more than it
planned (a resumed epoch, a trailing batch) stays at zero instead of climbing back up the cosine.
"""

from __future__ import annotations

import math

import torch


def cosine_factor(step: int, total: int, warmup: int = 0) -> float:
    """The multiplier of the base rate at `step` of `total`: (step + 1) / warmup during the warm-up,
    then 0.5 (1 + cos(pi t)) with t going from 0 to 1 over the remaining steps, and 0 after them."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (min(step, total) - warmup) / (total - warmup)))


def cosine(optimizer: torch.optim.Optimizer, total: int, warmup: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine schedule over `total` optimiser steps (the first `warmup` of them rising linearly).

    A closure, not a callable object: `LambdaLR.state_dict` then saves no state of it, so
    checkpoints hold the step count alone."""
    if not 0 <= warmup < total:
        raise ValueError(f"a cosine schedule needs 0 <= warmup < total steps, got warmup {warmup}, total {total}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total, warmup))
