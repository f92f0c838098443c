"""Frozen features of a whole image set, computed in batches on the device."""

from __future__ import annotations

import torch

from infomin_cli.engine.device import autocast


@torch.no_grad()
def extract_features(model, views, images: torch.Tensor, device: torch.device, layer: str | None = None,
                     batch_size: int = 256) -> torch.Tensor:
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        with autocast(device):
            feats = model.features(views.probe_inputs(batch), layer)
        out.append(feats.float())
    return torch.cat(out)
