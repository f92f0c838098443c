"""What every encoder offers: a representation for the head, and pooled features per named layer.

Probes read frozen features from a named layer; conv layers are average-pooled to a 2x2 grid so
that spatial layout (which a linear probe needs for position, and partly for shape) survives while
the feature size stays independent of the input size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.registry import Registry

PROBE_GRID = 2


class Encoder(nn.Module):
    """Subclasses set `stages` (an ordered ModuleDict of named blocks), `out_dim` and
    `default_probe_layer`; `forward` runs every stage and returns the flat representation."""

    stages: nn.ModuleDict
    out_dim: int
    default_probe_layer: str
    # the encoder's total stride: below it the last conv stage sees padding, not pixels, so a
    # smaller --image-size is refused before training (runs.validate)
    min_image_size: int = 1

    @property
    def layers(self) -> list[str]:
        return list(self.stages.keys())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages.values():
            x = stage(x)
        return x.flatten(1)

    def features(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        for name, stage in self.stages.items():
            x = stage(x)
            if name == layer:
                if x.ndim == 4:
                    x = F.adaptive_avg_pool2d(x, PROBE_GRID)
                return x.flatten(1)
        raise KeyError(layer)

    def feature_map(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The unpooled (B, C, h, w) output of a conv `layer`, for dense (segmentation) probes."""
        for name, stage in self.stages.items():
            x = stage(x)
            if name == layer:
                if x.ndim != 4:
                    raise ValueError(f"layer {layer!r} has no spatial map (shape {tuple(x.shape)})")
                return x
        raise KeyError(layer)


EncoderFactory = Callable[[int], Encoder]  # in_channels -> encoder (an Encoder class, or carries its min_image_size)
ENCODERS: Registry[EncoderFactory] = Registry("encoder")


def conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
