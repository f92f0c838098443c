"""Projection heads: linear (InstDis/CMC/MoCo) or a 2-layer MLP (SimCLR); outputs are L2-normalised."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.registry import Registry

HEADS: Registry = Registry("head")


class Head(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(x), dim=1)


HEADS.add("linear", lambda d_in, d_out: Head(nn.Linear(d_in, d_out)))
HEADS.add("mlp", lambda d_in, d_out: Head(nn.Sequential(nn.Linear(d_in, d_in), nn.ReLU(inplace=True), nn.Linear(d_in, d_out))))
