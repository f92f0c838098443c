"""torchvision ResNets (randomly initialised) for ImageNet-scale runs; first conv adapted to 1 or 2 channels."""

from __future__ import annotations

import torchvision
from torch import nn

from infomin_cli.models.base import ENCODERS, Encoder


class ResNet(Encoder):
    default_probe_layer = "layer4"
    min_image_size = 32  # stem 4, then layer2-4 stride 2 each

    def __init__(self, in_channels: int, depth: int) -> None:
        super().__init__()
        net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.stages = nn.ModuleDict(
            {
                "stem": nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool),
                "layer1": net.layer1,
                "layer2": net.layer2,
                "layer3": net.layer3,
                "layer4": net.layer4,
                "pool": nn.AdaptiveAvgPool2d(1),
            }
        )
        self.out_dim = net.fc.in_features


def _resnet(depth: int):
    def factory(in_channels: int) -> ResNet:
        return ResNet(in_channels, depth)

    factory.min_image_size = ResNet.min_image_size  # type: ignore[attr-defined]
    return factory


for _depth in (18, 50):
    ENCODERS.add(f"resnet{_depth}", _resnet(_depth))
