"""JigSaw tiles (PIRL, the branch of InfoMin Aug., paper C.3), cut as PyContrast cuts them.

The image is first RandomResizedCrop'ed to a square of 3 x cell pixels (scale 0.6-1; PyContrast:
255 px), split into a 3 x 3 grid, and a tile x tile window (PyContrast: 64 of 85) is taken at a
random offset inside each cell, so neighbouring tiles never share an edge the encoder could
match. Offsets are drawn per tile from the seeded generator; all tiles of the batch are cut
with one gather. The tiles then get the same photometric augmentation as the views, each its
own draw, and go through the online encoder one by one (objectives/jigsaw.py).
"""

from __future__ import annotations

import torch

GRID = 3
TILE_OF_CELL = 64 / 85  # PyContrast's 64 px tiles in 85 px cells
TILE_OF_IMAGE = 64 / 224  # its tiles against the 224 px views
MIN_TILE = 16  # the smallest input the small ConvNet takes
JIGSAW_SCALE = (0.6, 1.0)


def tile_geometry(image_size: int) -> tuple[int, int]:
    """(tile, cell) side in pixels for views of `image_size`: 64 and 85 at 224 px."""
    tile = max(MIN_TILE, round(image_size * TILE_OF_IMAGE))
    return tile, max(tile, round(tile / TILE_OF_CELL))


def cut_tiles(x: torch.Tensor, tile: int, generator: torch.Generator) -> torch.Tensor:
    """(B, C, 3c, 3c) -> (B, 9, C, tile, tile): one window at a random offset in each grid cell."""
    batch, channels, side, _ = x.shape
    cell = side // GRID
    cells = x[:, :, : cell * GRID, : cell * GRID].reshape(batch, channels, GRID, cell, GRID, cell)
    cells = cells.permute(0, 2, 4, 3, 5, 1).reshape(batch, GRID * GRID, cell, cell, channels)
    offsets = torch.randint(0, cell - tile + 1, (batch, GRID * GRID, 2), generator=generator, device=x.device)
    span = torch.arange(tile, device=x.device)
    rows = (offsets[..., 0:1] + span)[..., :, None]  # (B, 9, t, 1)
    cols = (offsets[..., 1:2] + span)[..., None, :]  # (B, 9, 1, t)
    b = torch.arange(batch, device=x.device)[:, None, None, None]
    j = torch.arange(GRID * GRID, device=x.device)[None, :, None, None]
    return cells[b, j, rows, cols].permute(0, 1, 4, 2, 3)
