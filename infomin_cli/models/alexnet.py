"""CMC's half-width AlexNet (one half per view), adapted to 64-px inputs.

Channel widths are half of AlexNet's (48-128-192-192-128, fc 2048), as in CMC's two-stream model.
For 64-px inputs the 11x11/stride-4 first layer becomes 5x5/stride-2 and the last pool is adaptive
(to 4x4), so the same network also accepts 32 or 96 px. The probe default is conv5, the layer CMC
reports as best for linear evaluation.
"""

from __future__ import annotations

from torch import nn

from infomin_cli.models.base import ENCODERS, Encoder, conv_bn_relu


class AlexNetHalf(Encoder):
    default_probe_layer = "conv5"
    min_image_size = 8  # conv1 stride 2, two stride-2 max pools

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.stages = nn.ModuleDict(
            {
                "conv1": nn.Sequential(*conv_bn_relu(in_channels, 48, 5, 2), nn.MaxPool2d(3, 2, 1)),
                "conv2": nn.Sequential(*conv_bn_relu(48, 128, 5), nn.MaxPool2d(3, 2, 1)),
                "conv3": nn.Sequential(*conv_bn_relu(128, 192, 3)),
                "conv4": nn.Sequential(*conv_bn_relu(192, 192, 3)),
                "conv5": nn.Sequential(*conv_bn_relu(192, 128, 3), nn.AdaptiveMaxPool2d(4)),
                "fc6": nn.Sequential(nn.Flatten(), nn.Linear(128 * 16, 2048), nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
                "fc7": nn.Sequential(nn.Linear(2048, 2048), nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
            }
        )
        self.out_dim = 2048


ENCODERS.add("alexnet-half", AlexNetHalf)
