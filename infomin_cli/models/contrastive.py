"""Encoders + heads for a pair of views: one shared encoder for same-kind views (augmentations), one
encoder per view for asymmetric views (e.g. 1 vs 2 colour channels), as in CMC."""

from __future__ import annotations

import torch
from torch import nn

from infomin_cli.models.base import ENCODERS
from infomin_cli.models.heads import HEADS


class ContrastiveModel(nn.Module):
    def __init__(self, encoder: str, head: str, channels: tuple[int, int], shared_encoder: bool, feat_dim: int) -> None:
        super().__init__()
        factory, head_factory = ENCODERS.get(encoder), HEADS.get(head)
        n = 1 if shared_encoder else 2
        self.encoders = nn.ModuleList([factory(channels[i]) for i in range(n)])
        self.heads = nn.ModuleList([head_factory(e.out_dim, feat_dim) for e in self.encoders])

    @property
    def shared(self) -> bool:
        return len(self.encoders) == 1

    def embed(self, x: torch.Tensor, index: int) -> torch.Tensor:
        i = 0 if self.shared else index
        return self.heads[i](self.encoders[i](x))

    def forward(self, v1: torch.Tensor, v2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed(v1, 0), self.embed(v2, 1)

    def features(self, inputs: list[torch.Tensor], layer: str | None = None) -> torch.Tensor:
        """Frozen features for probes: each encoder's pooled `layer`, concatenated across encoders."""
        layer = layer or self.encoders[0].default_probe_layer
        encoders = [self.encoders[0]] * len(inputs) if self.shared else self.encoders
        return torch.cat([enc.features(x, layer) for enc, x in zip(encoders, inputs, strict=True)], dim=1)

    def feature_maps(self, inputs: list[torch.Tensor], layer: str) -> torch.Tensor:
        """Dense features for segmentation probes: each encoder's (B, C, h, w) map of `layer`,
        concatenated along channels (a split model's two halves see the same pixels)."""
        encoders = [self.encoders[0]] * len(inputs) if self.shared else self.encoders
        return torch.cat([enc.feature_map(x, layer) for enc, x in zip(encoders, inputs, strict=True)], dim=1)

    @property
    def layers(self) -> list[str]:
        return self.encoders[0].layers


def build_model(config, channels: tuple[int, int], shared_encoder: bool) -> ContrastiveModel:
    return ContrastiveModel(config.encoder, config.head, channels, shared_encoder, config.feat_dim)
