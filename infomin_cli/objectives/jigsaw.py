"""The JigSaw branch of InfoMin Aug. (paper C.3, PIRL-style, as PyContrast combines it).

Nine tiles of the query image go through the same online encoder; a head maps each tile's
representation to the embedding space (one head shared by the nine tiles, PyContrast's `fc1`);
the nine embeddings are shuffled within each image, concatenated, and a second head (`fc2`)
maps them to one L2-normalised query. That query is contrasted against the same keys as the
ordinary query (the batch's v2 for in-batch InfoNCE; the key and the queue for MoCo), and
the loss is (1 - beta) L + beta L_jig. Jigsaw embeddings are never enqueued.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.options import Option
from infomin_cli.ranges import Range
from infomin_cli.runtime.precision import full_precision

TILES = 9
JIGSAW_BETA = Option("jigsaw_beta", 0.5, "weight beta of the JigSaw loss with level=infomin+jigsaw: (1 - beta) L + beta L_jig",
                     Range(0, 1), paper=0.5)  # PyContrast's weight; an option of every method with a JigSaw branch


def make_tiles(views, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The nine tiles per image (`views.jigsaw_tiles`), in fp32 whatever autocast region encloses
    the call, like every view (objectives/base.py `make_views`)."""
    with full_precision(images.device):
        return views.jigsaw_tiles(images, generator)


class JigsawBranch(nn.Module):
    def __init__(self, encoder_dim: int, feat_dim: int, head: str) -> None:
        super().__init__()
        if head == "mlp":
            self.tile_head: nn.Module = nn.Sequential(nn.Linear(encoder_dim, encoder_dim), nn.ReLU(inplace=True),
                                                      nn.Linear(encoder_dim, feat_dim))
        else:
            self.tile_head = nn.Linear(encoder_dim, feat_dim)
        self.mix_head = nn.Linear(TILES * feat_dim, feat_dim)

    def forward(self, encoder: nn.Module, tiles: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """tiles (B, 9, C, t, t) float -> (B, feat_dim) L2-normalised jigsaw queries."""
        batch = tiles.shape[0]
        flat = tiles.flatten(0, 1)
        if flat.device.type == "cuda":
            flat = flat.contiguous(memory_format=torch.channels_last)
        embedded = self.tile_head(encoder(flat)).view(batch, TILES, -1)
        order = torch.rand(batch, TILES, generator=generator, device=tiles.device).argsort(dim=1)
        shuffled = embedded.gather(1, order.unsqueeze(-1).expand_as(embedded))
        return F.normalize(self.mix_head(shuffled.flatten(1)), dim=1)
