"""RGB -> the eleven colour spaces of paper B.2, on whole float batches, matching scikit-image.

Why not call scikit-image? It works on one HxWx3 numpy image at a time on the CPU; the views are
built on the batch's device. Every formula below is scikit-image's own (`skimage.color.rgb2lab`,
`rgb2hed`, ... with its constants: sRGB gamma, D65 / 2-degree white, Landini's HED matrix), so a
test can hold each conversion to it: float64 within 1e-8, float32 within 1e-4 of the channel's
range (see tests/test_views_colorspaces.py).

Linear maps are one `einsum` (a batched matmul: a single pass over memory, ~5x faster on CPU than
per-channel weighted sums). Not a 1x1 conv: cuDNN convs default to TF32 on CUDA and would lose
about three decimal digits; matmuls default to full fp32 (`torch.backends.cuda.matmul.allow_tf32`
is False unless a user turns it on), and views are built outside the bf16 autocast region.

Normalisation (`normalise`): each channel is mapped linearly from its exact range over all 2^24
8-bit sRGB colours (`CHANNEL_RANGES`, computed once by running scikit-image on every colour) to
[-1, 1]. This is CMC's choice for Lab (range -> [-1, 1]) extended to every space, so no space is
favoured by the scale of its numbers and no dataset statistics are needed.
"""

from __future__ import annotations

import math

import torch

SPACES: tuple[str, ...] = ("rgb", "lab", "ycbcr", "ydbdr", "yiq", "yuv", "ypbpr", "hsv", "xyz", "luv", "hed")

# Which channel is view 1 (the rest is view 2); the paper splits "one channel vs the other two".
CHANNEL_NAMES: dict[str, tuple[str, str, str]] = {
    "rgb": ("R", "G", "B"),
    "lab": ("L", "a", "b"),
    "ycbcr": ("Y", "Cb", "Cr"),
    "ydbdr": ("Y", "Db", "Dr"),
    "yiq": ("Y", "I", "Q"),
    "yuv": ("Y", "U", "V"),
    "ypbpr": ("Y", "Pb", "Pr"),
    "hsv": ("H", "S", "V"),
    "xyz": ("X", "Y", "Z"),
    "luv": ("L", "u", "v"),
    "hed": ("H", "E", "D"),
}

# (low, high) per channel: min / max of scikit-image's conversion over all 2^24 8-bit colours.
CHANNEL_RANGES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "rgb": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "lab": ((0.0, -86.183, -107.857), (100.0, 98.2331, 94.4781)),
    "ycbcr": ((16.0, 16.0, 16.0), (235.0, 240.0, 240.0)),
    "ydbdr": ((0.0, -1.333, -1.333), (1.0, 1.333, 1.333)),
    "yiq": ((0.0, -0.595901, -0.522736), (1.0, 0.595901, 0.522736)),
    "yuv": ((0.0, -0.43601, -0.614975), (1.0, 0.43601, 0.614975)),
    "ypbpr": ((0.0, -0.5, -0.5), (1.0, 0.5, 0.5)),
    "hsv": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "xyz": ((0.0, 0.0, 0.0), (0.950456, 1.0, 1.08875)),
    "luv": ((0.0, -83.0779, -134.098), (100.0, 175.014, 107.399)),
    "hed": ((0.0, 0.0, 0.0), (1.87798, 1.13473, 1.57359)),
}

Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

# scikit-image's matrices (skimage/color/colorconv.py), rows = output channels.
XYZ_FROM_RGB: Matrix = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
YUV_FROM_RGB: Matrix = (
    (0.299, 0.587, 0.114),
    (-0.14714119, -0.28886916, 0.43601035),
    (0.61497538, -0.51496512, -0.10001026),
)
YIQ_FROM_RGB: Matrix = (
    (0.299, 0.587, 0.114),
    (0.59590059, -0.27455667, -0.32134392),
    (0.21153661, -0.52273617, 0.31119955),
)
YPBPR_FROM_RGB: Matrix = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
YCBCR_FROM_RGB: Matrix = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
YDBDR_FROM_RGB: Matrix = ((0.299, 0.587, 0.114), (-0.45, -0.883, 1.333), (-1.333, 1.116, 0.217))
RGB_FROM_HED: Matrix = ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78))
D65_WHITE = (0.95047, 1.0, 1.08883)  # xyz_tristimulus_values("D65", "2")


def _inverse(m: Matrix) -> Matrix:
    inv = torch.linalg.inv(torch.tensor(m, dtype=torch.float64))
    return tuple(tuple(float(v) for v in row) for row in inv.tolist())  # type: ignore[return-value]


HED_FROM_RGB: Matrix = _inverse(RGB_FROM_HED)


def _linear(x: torch.Tensor, m: Matrix, offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> torch.Tensor:
    """out[i] = sum_j m[i][j] * x[:, j] + offset[i], for (B,3,H,W) x."""
    weights = torch.tensor(m, dtype=x.dtype, device=x.device)
    out = torch.einsum("ij,bjhw->bihw", weights, x)  # one pass over memory, not ~18 elementwise ones
    if any(offset):
        out = out + torch.tensor(offset, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return out


def _srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0.04045, ((x.clamp_min(0.04045) + 0.055) / 1.055).pow(2.4), x / 12.92)


def rgb_to_xyz(x: torch.Tensor) -> torch.Tensor:
    return _linear(_srgb_to_linear(x), XYZ_FROM_RGB)


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    xyz = rgb_to_xyz(x)
    t = xyz / xyz.new_tensor(D65_WHITE).view(1, 3, 1, 1)
    f = torch.where(t > 0.008856, t.clamp_min(0.008856).pow(1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def rgb_to_luv(x: torch.Tensor) -> torch.Tensor:
    X, Y, Z = rgb_to_xyz(x).unbind(1)
    eps = torch.finfo(x.dtype).eps
    y = Y / D65_WHITE[1]
    L = torch.where(y > 0.008856, 116.0 * y.clamp_min(0.008856).pow(1.0 / 3.0) - 16.0, 903.3 * y)
    xw, yw, zw = D65_WHITE
    white_denominator = xw + 15.0 * yw + 3.0 * zw
    u0, v0 = 4.0 * xw / white_denominator, 9.0 * yw / white_denominator
    denominator = X + 15.0 * Y + 3.0 * Z + eps
    u = 13.0 * L * (4.0 * X / denominator - u0)
    v = 13.0 * L * (9.0 * Y / denominator - v0)
    return torch.stack([L, u, v], dim=1)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """scikit-image's rgb2hsv, including its tie rule (blue beats green beats red when equal)."""
    r, g, b = x.unbind(1)
    v = torch.maximum(torch.maximum(r, g), b)
    delta = v - torch.minimum(torch.minimum(r, g), b)
    flat = delta == 0
    safe = torch.where(flat, torch.ones_like(delta), delta)
    s = torch.where(flat, torch.zeros_like(delta), delta / torch.where(v == 0, torch.ones_like(v), v))
    h = torch.where(b == v, 4.0 + (r - g) / safe, torch.where(g == v, 2.0 + (b - r) / safe, (g - b) / safe))
    h = torch.remainder(h / 6.0, 1.0)
    h = torch.where(flat, torch.zeros_like(h), h)
    return torch.stack([h, s, v], dim=1)


def rgb_to_hed(x: torch.Tensor) -> torch.Tensor:
    """Haematoxylin-Eosin-DAB stain densities (Ruifrok & Johnston colour deconvolution)."""
    density = x.clamp_min(1e-6).log() / math.log(1e-6)
    # skimage computes row-vector @ matrix, i.e. out[j] = sum_i density[i] * m[i][j]
    transposed = tuple(zip(*HED_FROM_RGB, strict=True))
    return _linear(density, transposed).clamp_min(0.0)  # type: ignore[arg-type]


_CONVERTERS = {
    "rgb": lambda x: x,
    "lab": rgb_to_lab,
    "ycbcr": lambda x: _linear(x, YCBCR_FROM_RGB, (16.0, 128.0, 128.0)),
    "ydbdr": lambda x: _linear(x, YDBDR_FROM_RGB),
    "yiq": lambda x: _linear(x, YIQ_FROM_RGB),
    "yuv": lambda x: _linear(x, YUV_FROM_RGB),
    "ypbpr": lambda x: _linear(x, YPBPR_FROM_RGB),
    "hsv": rgb_to_hsv,
    "xyz": rgb_to_xyz,
    "luv": rgb_to_luv,
    "hed": rgb_to_hed,
}


def _check_space(space: str) -> None:
    if space not in _CONVERTERS:
        raise ValueError(f"unknown colour space {space!r}; one of {', '.join(SPACES)}")


def convert(rgb: torch.Tensor, space: str) -> torch.Tensor:
    """Float RGB in [0, 1], (B,3,H,W) -> the same batch in `space`, in scikit-image's units."""
    _check_space(space)
    return _CONVERTERS[space](rgb)


def normalise(converted: torch.Tensor, space: str) -> torch.Tensor:
    """Map each channel of a converted batch from its 8-bit-colour range to [-1, 1]."""
    low, high = _range_tensors(converted, space)
    return (converted - (high + low) / 2) / ((high - low) / 2)


def denormalise(normalised: torch.Tensor, space: str, channels: slice = slice(None)) -> torch.Tensor:
    """Inverse of `normalise` for display; `channels` says which channels of the space are present."""
    low, high = _range_tensors(normalised, space)
    low, high = low[:, channels], high[:, channels]
    return normalised * ((high - low) / 2) + (high + low) / 2


def _range_tensors(like: torch.Tensor, space: str) -> tuple[torch.Tensor, torch.Tensor]:
    _check_space(space)
    low, high = CHANNEL_RANGES[space]
    return like.new_tensor(low).view(1, 3, 1, 1), like.new_tensor(high).view(1, 3, 1, 1)


def to_normalised(images: torch.Tensor, space: str) -> torch.Tensor:
    """uint8 or [0, 1] float RGB batch -> normalised `space` (the one call the views make)."""
    rgb = images.float() / 255.0 if images.dtype == torch.uint8 else images
    return normalise(convert(rgb, space), space)
