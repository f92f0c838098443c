"""Frozen features of a whole image set, computed in batches on the device.

Reads through a `BatchSource`, so a probe over a streamed dataset needs no more memory than one
batch of images plus the features themselves.
"""

from __future__ import annotations

import torch

from infomin_cli.data.base import ImageSet
from infomin_cli.data.source import BatchSource, as_source, iter_batches
from infomin_cli.runtime.precision import FP32, Precision, full_precision


@torch.no_grad()
def extract_features(model, views, images: BatchSource | ImageSet | torch.Tensor, device: torch.device,
                     layer: str | None = None, batch_size: int = 256, limit: int | None = None,
                     precision: Precision = FP32) -> torch.Tensor:
    """float (N, D) features of the first `limit` items (all by default), in order, the encoder run
    at `precision` (its inputs in fp32). Leaves `model` in eval mode (the probe's caller owns the
    model; `KnnMonitor` restores the mode itself)."""
    model.eval()
    out = []
    for batch in iter_batches(as_source(images), batch_size, device, limit):
        with full_precision(device):
            inputs = views.probe_inputs(batch)
        with precision.autocast(device):
            feats = model.features(inputs, layer)
        out.append(feats.float())
    return torch.cat(out)
