"""JigSaw (PIRL, used as a branch of InfoMin Aug, paper C.3): a 3x3 grid of tiles, shuffled per sample.

PIRL encodes the nine tiles one by one and concatenates their features; to keep every family a pair
of images for any encoder, the shuffled tiles are reassembled into one image here. Each sample gets
its own permutation (argsort of uniform noise is a uniform permutation), applied with one gather.
If the side is not a multiple of the grid, the last few rows/columns are left in place.
"""

from __future__ import annotations

import torch


def jigsaw(x: torch.Tensor, generator: torch.Generator, grid: int = 3) -> torch.Tensor:
    batch, channels, height, width = x.shape
    th, tw = height // grid, width // grid
    core = x[:, :, : th * grid, : tw * grid]
    tiles = core.reshape(batch, channels, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(batch, grid * grid, channels, th, tw)
    order = torch.rand(batch, grid * grid, generator=generator, device=x.device).argsort(dim=1)
    tiles = tiles.gather(1, order.view(batch, grid * grid, 1, 1, 1).expand_as(tiles))
    shuffled = tiles.reshape(batch, grid, grid, channels, th, tw).permute(0, 3, 1, 4, 2, 5)
    out = x.clone()
    out[:, :, : th * grid, : tw * grid] = shuffled.reshape(batch, channels, th * grid, tw * grid)
    return out
