"""Turn view pairs back into pictures: the grid behind `infomin views show`.

Views are normalised encoder inputs, not images, so each kind is decoded the way a person can read
it: shared-encoder families hold ImageNet-normalised RGB (undone exactly); other 3-channel views
(e.g. freq-split's low/high pair) are stretched per image between their 1st and 99th percentiles;
1- and 2-channel views (colour-space splits) show each channel as its own stretched grey tile.

The grid names its columns above the first row ("original", "view 1", "view 2", and "ch 1",
"ch 2" under a view shown as several grey tiles); tiles smaller than `MIN_TILE` are enlarged
(nearest neighbour, whole multiples) so the names fit and the pixels stay visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from infomin_cli.views.base import ViewPair
from infomin_cli.views.infomin_aug import denormalise_rgb

GAP = 2
MIN_TILE = 64  # px: tiles are enlarged to at least this, so a column's name fits above it
FONT = 11  # px
LINE = 15  # px per row of column names


@dataclass(frozen=True)
class Header:
    """A column name over `span` tiles from tile `first`, on name row `row` (0: top)."""

    text: str
    first: int
    span: int
    row: int = 0


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


def view_grid(pair: ViewPair, images: torch.Tensor, generator: torch.Generator) -> tuple[Image.Image, str]:
    """uint8 batch -> a grid [original | v1 tiles | v2 tiles] per row under its column names, and a caption."""
    v1, v2 = pair(images, generator)
    size = v1.shape[-1]
    original = F.interpolate(images.float() / 255.0, size=(size, size), mode="bilinear", antialias=True)
    left, right = tiles(v1, pair.shared_encoder), tiles(v2, pair.shared_encoder)
    columns = [original.clamp(0, 1), *left, *right]
    headers = [Header("original", 0, 1), Header("view 1", 1, len(left)), Header("view 2", 1 + len(left), len(right))]
    for start, count in ((1, len(left)), (1 + len(left), len(right))):
        if count > 1:
            headers += [Header(f"ch {c + 1}", start + c, 1, row=1) for c in range(count)]
    scale = math.ceil(MIN_TILE / size)
    tile = size * scale
    rows = 1 + any(header.row for header in headers)
    top = rows * LINE
    width = len(columns) * (tile + GAP) + GAP
    grid = torch.ones(3, top + images.shape[0] * (tile + GAP) + GAP, width)
    for row in range(images.shape[0]):
        for col, column in enumerate(columns):
            y, x = top + GAP + row * (tile + GAP), GAP + col * (tile + GAP)
            grid[:, y : y + tile, x : x + tile] = column[row : row + 1].float().cpu().repeat_interleave(
                scale, -1).repeat_interleave(scale, -2)[0]
    picture = Image.fromarray((grid.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy())
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=FONT)
    for header in headers:
        middle = GAP + header.first * (tile + GAP) + (header.span * (tile + GAP) - GAP) / 2
        draw.text((middle, header.row * LINE + LINE / 2), header.text, fill="black", font=font, anchor="mm")
    caption = f"columns: original | view 1 ({len(left)} tile(s)) | view 2 ({len(right)} tile(s))"
    return picture, caption


def sample_grid(images: torch.Tensor, names: list[str], scale: int = 3, title: str = "") -> Image.Image:
    """uint8 (N, C, H, W) images -> a square grid, enlarged `scale` times (nearest neighbour), each
    image named underneath (`names[i]`, e.g. its class), under an optional `title` line."""
    side = math.ceil(math.sqrt(len(images)))
    h, w = images.shape[-2] * scale, images.shape[-1] * scale
    named = LINE if names else 0
    top = LINE if title else 0
    picture = Image.new("RGB", (side * (w + GAP) + GAP, top + side * (h + named + GAP) + GAP), "white")
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default(size=FONT)
    if title:
        draw.text((GAP, LINE / 2), title, fill="black", font=font, anchor="lm")
    for i, image in enumerate(images):
        while image.ndim > 3:  # a frame sequence (T, C, H, W): its first frame
            image = image[0]
        r, c = divmod(i, side)
        x, y = GAP + c * (w + GAP), top + GAP + r * (h + named + GAP)
        tile = Image.fromarray(image[:3].permute(1, 2, 0).numpy()).resize((w, h), Image.NEAREST)
        picture.paste(tile, (x, y))
        if names:
            draw.text((x + w / 2, y + h + LINE / 2), names[i], fill="black", font=font, anchor="mm")
    return picture
