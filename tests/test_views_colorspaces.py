"""Colour conversions match scikit-image; normalisation maps every 8-bit colour into [-1, 1]."""

import numpy as np
import pytest
import torch
from skimage import color, data

from infomin_cli.views import colorspaces as cs

torch.set_num_threads(1)

SKIMAGE = {
    "rgb": lambda x: x,
    "lab": color.rgb2lab,
    "ycbcr": color.rgb2ycbcr,
    "ydbdr": color.rgb2ydbdr,
    "yiq": color.rgb2yiq,
    "yuv": color.rgb2yuv,
    "ypbpr": color.rgb2ypbpr,
    "hsv": color.rgb2hsv,
    "xyz": color.rgb2xyz,
    "luv": color.rgb2luv,
    "hed": color.rgb2hed,
}


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    random = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    grey_and_primaries = np.array(
        [
            [
                [0, 0, 0],
                [255, 255, 255],
                [128, 128, 128],
                [255, 0, 0],
                [0, 255, 0],
                [0, 0, 255],
                [255, 255, 0],
                [3, 3, 4],
            ]
        ],
        dtype=np.uint8,
    )
    return [random, data.astronaut()[::8, ::8], grey_and_primaries]


def _reference(image: np.ndarray, space: str) -> np.ndarray:
    return SKIMAGE[space](image.astype(np.float64) / 255.0)


def _ours(image: np.ndarray, space: str, dtype: torch.dtype) -> np.ndarray:
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].to(dtype) / 255.0
    return cs.convert(batch, space)[0].permute(1, 2, 0).double().numpy()


def _error_over_range(ours: np.ndarray, ref: np.ndarray, space: str) -> float:
    diff = np.abs(ours - ref)
    if space == "hsv":  # hue is circular: 0.9999 and 0.0 are neighbours
        diff[..., 0] = np.minimum(diff[..., 0], 1.0 - diff[..., 0])
    low, high = map(np.array, cs.CHANNEL_RANGES[space])
    return float((diff / (high - low)).max())


@pytest.mark.parametrize("space", cs.SPACES)
def test_conversion_matches_scikit_image_within_1e_8_in_float64_and_1e_5_of_range_in_float32(space):
    for image in _images():
        ref = _reference(image, space)
        assert _error_over_range(_ours(image, space, torch.float64), ref, space) < 1e-8
        assert _error_over_range(_ours(image, space, torch.float32), ref, space) < 1e-5


def test_lab_matches_scikit_image_within_1e_4_absolute_in_float32():
    image = data.astronaut()[::4, ::4]
    assert np.abs(_ours(image, "lab", torch.float32) - color.rgb2lab(image)).max() < 1e-4


@pytest.mark.parametrize("space", cs.SPACES)
def test_normalised_8bit_colours_lie_in_minus_one_one_and_span_it(space):
    levels = torch.linspace(0, 1, 18, dtype=torch.float64)  # includes 0 and 255; a 5832-colour cube
    cube = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij"), 0).reshape(1, 3, -1, 1)
    y = cs.normalise(cs.convert(cube, space), space)
    assert y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5
    # every channel uses most of its range, so no channel is drowned by another's scale
    span = y.amax(dim=(0, 2, 3)) - y.amin(dim=(0, 2, 3))
    assert (span > 1.5).all(), span


def test_denormalise_inverts_normalise():
    x = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    lab = cs.convert(x, "lab")
    assert torch.allclose(cs.denormalise(cs.normalise(lab, "lab"), "lab"), lab, atol=1e-10)


def test_unknown_space_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match="lab"):
        cs.convert(torch.rand(1, 3, 2, 2), "cmyk")
