"""In-batch InfoNCE (symmetric), the objective of CMC/SimCLR with K = batch size.

L_NCE = mean over both directions of -log softmax(z1 z2^T / tau)_ii. Since each row is a K-way
classification of the positive among K candidates, L_NCE >= 0 and I_NCE = log K - L_NCE <= log K:
the estimate can never exceed log K, which is why small batches saturate it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from infomin_cli.registry import Registry


@dataclass
class NCEOutput:
    loss: torch.Tensor  # scalar, differentiable
    i_nce: torch.Tensor  # log K - loss, nats (detached, on device: read it when logging, not every step)
    k: int


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> NCEOutput:
    logits = (z1 @ z2.T).float() / temperature
    target = torch.arange(len(z1), device=z1.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    k = len(z1)
    return NCEOutput(loss, math.log(k) - loss.detach(), k)


OBJECTIVES: Registry = Registry("objective")
OBJECTIVES.add("infonce", info_nce)
