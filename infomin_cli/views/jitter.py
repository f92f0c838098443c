"""SimCLR colour distortion on whole batches: ColorJitter with per-sample factors and order, grayscale.

torchvision's `ColorJitter` draws (brightness, contrast, saturation, hue) factors and a random order
of the four operations once per call, i.e. once per image in a DataLoader. Here every sample draws
its own factors *and its own order*: at each of the four steps, the samples whose permutation puts
operation j there are gathered and adjusted together, so the work is 16 batched calls on about B/4
samples each, the cost of four full-batch calls. Each operation is torchvision's tensor formula
(`adjust_brightness/contrast/saturation/hue`), which the tests check sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) -> (B,1,H,W) luma, torchvision's weights."""
    r, g, b = x.unbind(1)
    return (GREY_WEIGHTS[0] * r + GREY_WEIGHTS[1] * g + GREY_WEIGHTS[2] * b).unsqueeze(1)


def _per_sample(factor: torch.Tensor) -> torch.Tensor:
    return factor.to(torch.float32).view(-1, 1, 1, 1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (x * _per_sample(factor)).clamp(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _per_sample(factor)
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return (f * x + (1.0 - f) * mean).clamp(0.0, 1.0)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _per_sample(factor)
    return (f * x + (1.0 - f) * grayscale(x)).clamp(0.0, 1.0)


def adjust_hue(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's adjust_hue without the HSV round trip.

    Rotating hue keeps each pixel's max V and chroma C = max - min, so only the hue angle is
    computed; each channel is then V - C clamp(min(k, 4 - k), 0, 1) with k = (n + 6H) mod 6 for
    n = 5, 3, 1 (the closed form of hsv_to_rgb). About half the passes of rgb->hsv->rgb, and hue
    was most of the colour jitter's time on CPU.
    """
    r, g, b = x.unbind(1)
    v = torch.maximum(torch.maximum(r, g), b)
    chroma = v - torch.minimum(torch.minimum(r, g), b)
    inverse = torch.where(chroma == 0, 0.0, 1.0 / chroma)  # grey pixels: hue is moot, C = 0 below
    h6 = torch.where(b == v, 4.0 + (r - g) * inverse, torch.where(g == v, 2.0 + (b - r) * inverse, (g - b) * inverse))
    h6 += 6.0 * factor.to(x.dtype).view(-1, 1, 1)
    out = torch.empty_like(x)
    for channel, n in enumerate((5.0, 3.0, 1.0)):
        k = (h6 + n).remainder_(6.0)
        torch.sub(v, torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0).mul_(chroma), out=out[:, channel])
    return out


OPERATIONS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


@dataclass(frozen=True)
class JitterFactors:
    """Per-sample parameters; `order[b]` is sample b's permutation of the four operations."""

    factors: torch.Tensor  # (B, 4): brightness, contrast, saturation, hue
    order: torch.Tensor  # (B, 4) int64
    applied: torch.Tensor  # (B,) bool


def simclr_strengths(strength: float) -> tuple[float, float, float, float]:
    """SimCLR's jitter of strength x: (0.8x, 0.8x, 0.8x, 0.2x), hue capped at torchvision's 0.5."""
    return 0.8 * strength, 0.8 * strength, 0.8 * strength, min(0.2 * strength, 0.5)


def sample_jitter(
    batch: int, strength: float, probability: float, generator: torch.Generator, device: torch.device
) -> JitterFactors:
    """Factor ranges as torchvision ColorJitter(0.8x, 0.8x, 0.8x, 0.2x): [max(0, 1-s), 1+s], hue [-h, h]."""
    b, c, s, h = simclr_strengths(strength)
    low = torch.tensor([max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -h], device=device)
    high = torch.tensor([1 + b, 1 + c, 1 + s, h], device=device)
    u = torch.rand(batch, 4, generator=generator, device=device)
    order = torch.rand(batch, 4, generator=generator, device=device).argsort(dim=1)
    applied = torch.rand(batch, generator=generator, device=device) < probability
    return JitterFactors(low + (high - low) * u, order, applied)


def color_jitter(x: torch.Tensor, params: JitterFactors) -> torch.Tensor:
    """Apply each sample's factors in each sample's order, only where `applied` (each operation's
    rows written back in x's dtype: fp32 factors would otherwise promote bf16 images)."""
    x = x.clone()
    for step in range(4):
        for op_index, op in enumerate(OPERATIONS):
            chosen = torch.nonzero(params.applied & (params.order[:, step] == op_index)).squeeze(1)
            if chosen.numel():
                x[chosen] = op(x[chosen], params.factors[chosen, op_index]).to(x.dtype)
    return x


def random_grayscale(x: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """torchvision RandomGrayscale: luma copied to all three channels with the given probability."""
    drop = torch.rand(x.shape[0], generator=generator, device=x.device) < probability
    return torch.where(drop.view(-1, 1, 1, 1), grayscale(x).expand_as(x), x)
