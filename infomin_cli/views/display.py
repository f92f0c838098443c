"""Turn view pairs back into pictures: the grid behind `infomin views show`.

Views are normalised encoder inputs, not images, so each kind is decoded the way a person can read
it: shared-encoder families hold ImageNet-normalised RGB (undone exactly); other 3-channel views
(e.g. freq-split's low/high pair) are stretched per image between their 1st and 99th percentiles;
1- and 2-channel views (colour-space splits) show each channel as its own stretched grey tile.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from infomin_cli.views.base import ViewPair
from infomin_cli.views.infomin_aug import denormalise_rgb

GAP = 2


def _stretch(x: torch.Tensor) -> torch.Tensor:
    """Per-image robust min-max to [0, 1] over all of an image's channels and pixels."""
    flat = x.flatten(1).float()
    low = flat.quantile(0.01, dim=1).view(-1, 1, 1, 1)
    high = flat.quantile(0.99, dim=1).view(-1, 1, 1, 1)
    return ((x - low) / (high - low).clamp_min(1e-6)).clamp(0.0, 1.0)


def tiles(view: torch.Tensor, shared_encoder: bool) -> list[torch.Tensor]:
    """(B,C,S,S) view -> list of displayable (B,3,S,S) tiles in [0, 1]."""
    if view.shape[1] == 3:
        rgb = denormalise_rgb(view).clamp(0.0, 1.0) if shared_encoder else _stretch(view)
        return [rgb]
    return [_stretch(view[:, c : c + 1]).expand(-1, 3, -1, -1) for c in range(view.shape[1])]


def view_grid(pair: ViewPair, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, str]:
    """uint8 batch -> (3, H, W) float grid [original | v1 tiles | v2 tiles] per row, and a caption."""
    v1, v2 = pair(images, generator)
    size = v1.shape[-1]
    original = F.interpolate(images.float() / 255.0, size=(size, size), mode="bilinear", antialias=True)
    left, right = tiles(v1, pair.shared_encoder), tiles(v2, pair.shared_encoder)
    columns = [original.clamp(0, 1), *left, *right]
    batch = images.shape[0]
    width = len(columns) * (size + GAP) + GAP
    height = batch * (size + GAP) + GAP
    grid = torch.ones(3, height, width)
    for row in range(batch):
        for col, tile in enumerate(columns):
            y, x = GAP + row * (size + GAP), GAP + col * (size + GAP)
            grid[:, y : y + size, x : x + size] = tile[row].float().cpu()
    caption = f"columns: original | view 1 ({len(left)} tile(s)) | view 2 ({len(right)} tile(s))"
    return grid, caption


def save_png(grid: torch.Tensor, path) -> None:
    from PIL import Image

    array = (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(array).save(path)
