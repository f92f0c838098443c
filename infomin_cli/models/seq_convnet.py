"""The paper's B.4 encoder for Colorful Moving MNIST: a 4-layer ConvNet per frame, an LSTM over frames.

One module encodes both views: v1 (frames 1..k, 5-d) goes through the CNN frame by frame and the
LSTM aggregates the frames; v2 (one image, 4-d) goes through the CNN alone. The two results live in
the same 64-d space because the LSTM's hidden size equals the CNN's width, as the paper sets it
("the dimensions of the hidden layer and output in LSTM are both 64").

Strides are (1, 2, 2, 2), a total stride of 8: a 32 px canvas ends on a 4x4 map, the paper's
64 px one on 8x8. The paper gives the widths (8, 16, 32, 64) but not the strides. The digit is
small (14 px on a 32 px canvas) and what tells one digit from another is a few pixels wide, so the
first layer keeps full resolution. Trained end to end on the digit of frame t (evaluate/factors.py's
supervised reference: 4,000 embedded sequences, Adam 2e-3, batch 32), test top-1 after 20 epochs
was 43 % for (2, 2, 2, 1), 58 % for (2, 1, 2, 2) and 62 % for (1, 2, 2, 2), which took 1.3x as long
as (2, 1, 2, 2); stride 2 in all four layers overfitted instead (20 % after 30 epochs at a train
loss of 0.63). In contrastive training with shared=digit, all-2 strides left the loss at log K for
10 epochs, while full resolution in the first layer started to learn the digit by epoch 4. The position
error from frame t was the same for all-2 and (2, 1, 2, 2) (3.0 px after 10 epochs; guessing the
mean position: 6.9 px). Every cell of
the last map touches the zero padding differently, which is what lets a globally pooled feature
still say where the digit is.

Probe layers are the two representations the paper compares: `sequence` (the LSTM's, from frames
1..k) and `image` (the CNN's, from frame t). Both read the probe input (B, k + 1, C, H, W) of the
view pair: frames 1..k followed by frame t.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from infomin_cli.models.base import ENCODERS, Encoder, conv_bn_relu

WIDTHS = (8, 16, 32, 64)  # B.4: "4 layers with 8, 16, 32, 64 filters from low to high"
STRIDES = (1, 2, 2, 2)  # not in the paper; see the module docstring
HIDDEN = 64  # B.4: LSTM hidden and output size


class SeqConvNet(Encoder):
    default_probe_layer = "sequence"
    min_image_size = math.prod(STRIDES)  # the total stride

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        widths = (in_channels, *WIDTHS)
        stages: dict[str, nn.Module] = {
            f"conv{i + 1}": nn.Sequential(*conv_bn_relu(widths[i], widths[i + 1], 3, STRIDES[i])) for i in range(len(WIDTHS))
        }
        stages["pool"] = nn.AdaptiveAvgPool2d(1)
        self.stages = nn.ModuleDict(stages)  # the per-frame CNN
        self.lstm = nn.LSTM(WIDTHS[-1], HIDDEN, num_layers=1, batch_first=True)
        self.out_dim = HIDDEN
        self.memory_format = torch.channels_last  # of the frames; see encode_images

    @property
    def layers(self) -> list[str]:
        return ["sequence", "image"]

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, 64): the CNN and its global average pool.

        The frames go in channels_last on every device: the first layer runs at full resolution
        with 3 -> 8 channels, where oneDNN's NHWC kernels are much faster on a CPU (1.6-1.8x the
        training step at 32 px, 2.3-2.7x at 64 px on one core: `bench_moving_mnist`, which times
        both layouts in the same run). On CUDA the views already come in channels_last (a no-op)."""
        x = x.contiguous(memory_format=self.memory_format)
        for stage in self.stages.values():
            x = stage(x)
        return x.flatten(1)

    def encode_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, 64): all B*T frames through the CNN in one call (one BN batch, one
        big conv instead of T small ones), then the LSTM's last hidden state."""
        b, t = x.shape[:2]
        frames = self.encode_images(x.flatten(0, 1)).view(b, t, -1)
        _, (hidden, _) = self.lstm(frames)
        return hidden[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5:
            return self.encode_sequence(x)
        if x.ndim == 4:
            return self.encode_images(x)
        raise ValueError(f"seq-convnet takes (B, T, C, H, W) sequences or (B, C, H, W) images, got shape {tuple(x.shape)}")

    def features(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """`x` is the probe input (B, k + 1, C, H, W): frames 1..k, then frame t. `sequence` never sees
        frame t and `image` sees nothing else, so the two probes compare what each representation
        holds about frame t's factors. A 4-d image is accepted for `image`."""
        if layer == "sequence":
            if x.ndim != 5 or x.shape[1] < 2:
                raise ValueError(f"layer 'sequence' needs a probe input (B, k + 1, C, H, W), got shape {tuple(x.shape)}")
            return self.encode_sequence(x[:, :-1])
        if layer == "image":
            return self.encode_images(x[:, -1] if x.ndim == 5 else x)
        raise KeyError(layer)

    def feature_map(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        raise ValueError("seq-convnet has no dense probe layers: its representations are pooled 64-d vectors "
                         "(use the linear probes of layers 'sequence' and 'image')")


ENCODERS.add("seq-convnet", SeqConvNet)
