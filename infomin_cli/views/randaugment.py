"""RandAugment (Cubuk et al.) on whole batches, with per-sample operations and magnitudes.

The recipe is timm's `rand-n2-m10-mstd0.5`, the one InfoMin's code (PyContrast) used: each of the
n = 2 layers picks one of the 15 operations below uniformly (with replacement) *per sample*,
applies it with probability 0.5, at a magnitude drawn per sample from N(10, 0.5) clipped to
[0, 10]. Level -> argument mappings are timm's defaults (`_RAND_TRANSFORMS`, not the `inc`
variants): rotate 30 deg * m/10, shear 0.3 * m/10, translate 0.45 * m/10 of the side (each with a
random sign), posterize to int(4 m/10) bits, solarize above int(256 m/10), solarize-add
int(110 m/10) below 128, and enhance factors 1.8 m/10 + 0.1. Geometric operations fill with the
ImageNet mean colour (timm's `img_mean`).

Batching: for each layer and operation, the samples that chose it are gathered and transformed in
one call; the 5 geometric operations become per-sample affine matrices and share one grid_sample.
Equalize and autocontrast have no random parameters and use torchvision's batched kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from infomin_cli.views.jitter import adjust_brightness, adjust_contrast, adjust_saturation

MAX_LEVEL = 10.0
FILL = (0.485, 0.456, 0.406)  # ImageNet mean, timm's fill colour

GEOMETRIC = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
PHOTOMETRIC = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
)
OPS = PHOTOMETRIC + GEOMETRIC


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0).round().clamp(0, 255).to(torch.uint8)


def _enhance_factor(level: torch.Tensor) -> torch.Tensor:
    return level / MAX_LEVEL * 1.8 + 0.1


def _sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ImageEnhance.Sharpness: blend with the SMOOTH-filtered image; border pixels unchanged.

    SMOOTH is [[1,1,1],[1,5,1],[1,1,1]] / 13 = (9 * mean3x3 + 4 * centre) / 13, computed with one
    average pool (much faster on CPU than a grouped convolution).
    """
    smooth = (9.0 * F.avg_pool2d(x, 3, stride=1) + 4.0 * x[..., 1:-1, 1:-1]) / 13.0
    inner = x[..., 1:-1, 1:-1]
    f = factor.view(-1, 1, 1, 1)
    out = x.clone()
    out[..., 1:-1, 1:-1] = (smooth + f * (inner - smooth)).clamp(0.0, 1.0)
    return out


def _photometric(name: str, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    if name == "AutoContrast":
        return TF.autocontrast(x)
    if name == "Equalize":
        return TF.equalize(_to_uint8(x)).to(x.dtype) / 255.0
    if name == "Invert":
        return 1.0 - x
    pixels = (x * 255.0).round()
    if name == "Posterize":
        bits = (level / MAX_LEVEL * 4).floor()  # timm: int(m/10 * 4) bits kept
        step = torch.pow(2.0, 8.0 - bits).view(-1, 1, 1, 1)
        return (torch.floor(pixels / step) * step) / 255.0
    if name == "Solarize":
        threshold = (level / MAX_LEVEL * 256).floor().view(-1, 1, 1, 1)
        return torch.where(pixels >= threshold, 1.0 - x, x)
    if name == "SolarizeAdd":
        add = (level / MAX_LEVEL * 110).floor().view(-1, 1, 1, 1)
        return torch.where(pixels < 128, ((pixels + add).clamp_max(255.0)) / 255.0, x)
    factor = _enhance_factor(level)
    if name == "Color":
        return adjust_saturation(x, factor)
    if name == "Contrast":
        return adjust_contrast(x, factor)
    if name == "Brightness":
        return adjust_brightness(x, factor)
    if name == "Sharpness":
        return _sharpness(x, factor)
    raise ValueError(f"unknown RandAugment op {name!r}")


def _pixel_affine(
    name: str, level: torch.Tensor, sign: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """(N,2,3) maps output pixel coordinates to input ones, as PIL's Image.transform(AFFINE) does."""
    n = level.shape[0]
    m = torch.zeros(n, 2, 3, dtype=level.dtype, device=level.device)
    m[:, 0, 0] = 1.0
    m[:, 1, 1] = 1.0
    magnitude = level / MAX_LEVEL * sign
    if name == "ShearX":
        m[:, 0, 1] = 0.3 * magnitude
    elif name == "ShearY":
        m[:, 1, 0] = 0.3 * magnitude
    elif name == "TranslateXRel":
        m[:, 0, 2] = 0.45 * magnitude * width
    elif name == "TranslateYRel":
        m[:, 1, 2] = 0.45 * magnitude * height
    elif name == "Rotate":  # about the centre
        angle = magnitude * 30.0 * math.pi / 180.0
        cos, sin = torch.cos(angle), torch.sin(angle)
        cx, cy = width / 2.0, height / 2.0
        m[:, 0, 0], m[:, 0, 1] = cos, -sin
        m[:, 1, 0], m[:, 1, 1] = sin, cos
        m[:, 0, 2] = cx - cos * cx + sin * cy
        m[:, 1, 2] = cy - sin * cx - cos * cy
    return m


def warp(
    x: torch.Tensor, pixel_affine: torch.Tensor, fill: tuple[float, float, float] = FILL
) -> torch.Tensor:
    """Per-sample affine warp in pixel coordinates; outside the image is `fill`."""
    n, channels, height, width = x.shape
    # normalised n = 2p/S - 1 (align_corners=False): theta = N_in @ M @ N_out^-1
    # (the geometry in fp32 at least: linalg.inv has no bf16, and bf16 would move pixels)
    dtype = torch.promote_types(x.dtype, torch.float32)
    to_norm = torch.tensor([[2.0 / width, 0.0, -1.0], [0.0, 2.0 / height, -1.0], [0.0, 0.0, 1.0]], dtype=dtype,
                           device=x.device)
    from_norm = torch.linalg.inv(to_norm)
    full = torch.cat([pixel_affine.to(dtype), to_norm.new_tensor([0.0, 0.0, 1.0]).expand(n, 1, 3)], dim=1)
    theta = (to_norm @ full @ from_norm)[:, :2]
    grid = F.affine_grid(theta, [n, channels + 1, height, width], align_corners=False).to(x.dtype)
    with_mask = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    out = F.grid_sample(with_mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = out[:, -1:]
    return out[:, :-1] + (1.0 - inside) * x.new_tensor(fill).view(1, 3, 1, 1)


def rand_augment(
    x: torch.Tensor,
    generator: torch.Generator,
    layers: int = 2,
    magnitude: float = 10.0,
    magnitude_std: float = 0.5,
    probability: float = 0.5,
) -> torch.Tensor:
    """Float [0, 1] (B,3,H,W) -> RandAugment'ed batch; every random choice is per sample. Each op's
    rows are written back in x's dtype (an index-put refuses any other; fp32 levels promote bf16)."""
    batch, _, height, width = x.shape
    device = x.device
    for _ in range(layers):
        op_index = torch.randint(len(OPS), (batch,), generator=generator, device=device)
        applied = torch.rand(batch, generator=generator, device=device) < probability
        noise = torch.randn(batch, generator=generator, device=device)
        level = (magnitude + magnitude_std * noise).clamp(0.0, MAX_LEVEL)
        sign = torch.where(torch.rand(batch, generator=generator, device=device) < 0.5, -1.0, 1.0)
        op_index = torch.where(applied, op_index, -1)
        out = x.clone()
        for i, name in enumerate(PHOTOMETRIC):
            chosen = torch.nonzero(op_index == i).squeeze(1)
            if chosen.numel():
                out[chosen] = _photometric(name, x[chosen], level[chosen]).to(out.dtype)
        geometric = torch.nonzero(op_index >= len(PHOTOMETRIC)).squeeze(1)
        if geometric.numel():
            affine = torch.zeros(batch, 2, 3, device=device)
            for i, name in enumerate(GEOMETRIC, start=len(PHOTOMETRIC)):
                affine = torch.where(
                    (op_index == i).view(-1, 1, 1), _pixel_affine(name, level, sign, height, width), affine
                )
            out[geometric] = warp(x[geometric], affine[geometric]).to(out.dtype)
        x = out
    return x
