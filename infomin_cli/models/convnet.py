"""A small ConvNet for fast CPU runs.

It downsamples in its first layer (5x5, stride 2): on a CPU the full-resolution activations, not
the FLOPs, dominate a small net's step time. Then 16 -> 8 -> 4 px, and a global pool.
"""

from __future__ import annotations

from torch import nn

from infomin_cli.models.base import ENCODERS, Encoder, conv_bn_relu


class ConvNet(Encoder):
    default_probe_layer = "conv4"
    min_image_size = 8  # strides 2, 2, 2

    def __init__(self, in_channels: int, width: int = 24) -> None:
        super().__init__()
        w = width
        self.stages = nn.ModuleDict(
            {
                "conv1": nn.Sequential(*conv_bn_relu(in_channels, w, 5, 2)),
                "conv2": nn.Sequential(*conv_bn_relu(w, 2 * w, 3)),
                "conv3": nn.Sequential(*conv_bn_relu(2 * w, 4 * w, 3, 2)),
                "conv4": nn.Sequential(*conv_bn_relu(4 * w, 4 * w, 3, 2)),
                "pool": nn.AdaptiveAvgPool2d(1),
            }
        )
        self.out_dim = 4 * w


ENCODERS.add("convnet", ConvNet)
