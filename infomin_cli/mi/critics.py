"""Critics f(x, y) that turn a batch of pairs into the score matrix S[i, j] = f(x_i, y_j).

Separable critics g(x)^T h(y) cost two forward passes per batch (B + K rows) and are what
contrastive encoders are; joint ("concat") critics f([x, y]) can represent any log-ratio but cost
B * K forward passes. Poole et al. 2019 use both with 2 hidden layers of 256 units.
"""

from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int = 256, layers: int = 2) -> nn.Sequential:
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    modules.append(nn.Linear(width, out_dim))
    return nn.Sequential(*modules)


class SeparableCritic(nn.Module):
    """S = g(x) h(y)^T with two MLP embeddings."""

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2, embed_dim: int = 32) -> None:
        super().__init__()
        self.g = mlp(x_dim, embed_dim, hidden, layers)
        self.h = mlp(y_dim, embed_dim, hidden, layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.g(x) @ self.h(y).T


class ConcatCritic(nn.Module):
    """S[i, j] = f([x_i, y_j]) with one MLP evaluated on every pair."""

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.f = mlp(x_dim + y_dim, 1, hidden, layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b, k = x.shape[0], y.shape[0]
        pairs = torch.cat([x.unsqueeze(1).expand(b, k, -1), y.unsqueeze(0).expand(b, k, -1)], dim=-1)
        return self.f(pairs).squeeze(-1)


CRITICS = {"separable": SeparableCritic, "concat": ConcatCritic}


class SmallConvEmbedding(nn.Module):
    """Three stride-2 convolutions, global pooling and a linear map: a critic tower for image
    views that trains in minutes on a CPU (the runs' own encoders are ~100x more costly)."""

    def __init__(self, in_channels: int, width: int = 32, embed_dim: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.out = nn.Linear(2 * width, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


class ViewCritic(nn.Module):
    """Separable critic over two image views, S = <g(v1), h(v2)> / tau on the unit sphere, one
    tower per view (the views may have different channel counts, e.g. L vs ab).

    Normalised embeddings with a fixed temperature (as the runs' own heads) bound |S| <= 1/tau, so
    a young critic cannot produce the wild score scales that drove held-out I_NCE below 0."""

    def __init__(self, channels: tuple[int, int], width: int = 32, embed_dim: int = 64, temperature: float = 0.1) -> None:
        super().__init__()
        self.g = SmallConvEmbedding(channels[0], width, embed_dim)
        self.h = SmallConvEmbedding(channels[1], width, embed_dim)
        self.temperature = temperature

    def embed(self, v1: torch.Tensor, v2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normalize = nn.functional.normalize
        return normalize(self.g(v1), dim=1), normalize(self.h(v2), dim=1)

    def forward(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.embed(v1, v2)
        return z1 @ z2.T / self.temperature
