"""Gaussian blur on whole batches, with one sigma per sample if wanted.

The kernel is torchvision's (`transforms.functional.gaussian_blur`: a sampled, normalised Gaussian
on integer offsets, reflect padding), applied as two separable 1-D passes. Per-sample sigmas use one
grouped convolution over all B*C planes, so a batch with B different blurs is still one conv call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def kernel_size_for(sigma: float) -> int:
    """Odd size covering +-3 sigma, the usual truncation (99.7 % of the mass)."""
    return 2 * math.ceil(3.0 * sigma) + 1


def gaussian_kernels(sigmas: torch.Tensor, size: int) -> torch.Tensor:
    """(N,) sigmas -> (N, size) normalised 1-D kernels, torchvision's `_get_gaussian_kernel1d`."""
    half = (size - 1) * 0.5
    x = torch.linspace(-half, half, size, dtype=sigmas.dtype, device=sigmas.device)
    pdf = torch.exp(-0.5 * (x[None, :] / sigmas[:, None]) ** 2)
    return pdf / pdf.sum(dim=1, keepdim=True)


def gaussian_blur(images: torch.Tensor, sigma: float | torch.Tensor, size: int | None = None) -> torch.Tensor:
    """Float (B,C,H,W) blurred by `sigma` (a float, or a (B,) tensor: one sigma per sample), in the
    images' dtype whatever autocast region encloses the call (its convolutions would be bf16 there)."""
    batch, channels, height, width = images.shape
    if not torch.is_tensor(sigma):
        sigma = torch.full((batch,), float(sigma), dtype=images.dtype, device=images.device)
    sigma = sigma.to(images.dtype)
    size = size or kernel_size_for(float(sigma.max()))
    # reflect padding needs pad < side; a kernel wider than the image is clipped to fit it
    size = min(size, 2 * (min(height, width) - 1) + 1)
    pad = size // 2
    kernels = gaussian_kernels(sigma, size).repeat_interleave(channels, dim=0)  # (B*C, size)
    planes = images.reshape(1, batch * channels, height, width)
    planes = F.pad(planes, (pad, pad, pad, pad), mode="reflect")
    planes = F.conv2d(planes, kernels.view(-1, 1, 1, size), groups=batch * channels)
    planes = F.conv2d(planes, kernels.view(-1, 1, size, 1), groups=batch * channels)
    return planes.view(batch, channels, height, width).to(images.dtype)
