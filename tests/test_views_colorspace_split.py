"""colorspace-split: one channel vs two, a shared crop, and the per-space shortcuts."""

import pytest
import torch

from infomin_cli.errors import InfominError
from infomin_cli.views import VIEWS
from infomin_cli.views.colorspaces import SPACES, to_normalised

torch.set_num_threads(1)


def _images(n=4, size=40):
    return torch.randint(
        0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


@pytest.mark.parametrize("space", SPACES)
def test_every_space_has_a_shortcut_family_that_splits_one_channel_from_two(space):
    pair = VIEWS.get(f"{space}-split").make({}, 24)
    v1, v2 = pair(_images(), torch.Generator().manual_seed(0))
    assert pair.channels == (1, 2) and not pair.shared_encoder
    assert v1.shape == (4, 1, 24, 24) and v2.shape == (4, 2, 24, 24)
    assert v1.dtype == torch.float32 and v1.abs().max() <= 1.0001 and v2.abs().max() <= 1.0001


def test_lab_split_views_are_the_l_and_ab_channels_of_the_same_crop():
    # with crop-scale=1 on a square image and a fixed box, both views see the whole image
    images = _images(2, 24)
    v1, v2 = VIEWS.get("lab-split").make({"crop-scale": 1.0}, 24)(images, torch.Generator().manual_seed(0))
    lab = to_normalised(images, "lab")
    flipped = lab.flip(-1)
    for b in range(2):
        both = torch.cat([v1[b], v2[b]])
        assert torch.allclose(both, lab[b], atol=1e-4) or torch.allclose(both, flipped[b], atol=1e-4)


def test_probe_inputs_are_deterministic_whole_image_channel_splits():
    pair = VIEWS.get("colorspace-split").make({"space": "hed"}, 20)
    a, b = pair.probe_inputs(_images())
    assert a.shape == (4, 1, 20, 20) and b.shape == (4, 2, 20, 20)
    assert torch.equal(pair.probe_inputs(_images())[0], a)


def test_views_are_deterministic_given_the_generator_seed():
    pair = VIEWS.get("colorspace-split").make({"space": "ycbcr", "crop-scale": "0.3"}, 16)
    x = _images()
    a = pair(x, torch.Generator().manual_seed(5))
    b = pair(x, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_shortcut_defaults_to_cmc_crop_scale_and_fixes_the_space():
    values = VIEWS.get("ydbdr-split").resolve({})
    assert values == {"crop-scale": 0.2, "space": "ydbdr"}


def test_bad_space_lists_the_valid_spaces():
    with pytest.raises(InfominError, match="lab, ycbcr"):
        VIEWS.get("colorspace-split").make({"space": "cmyk"}, 16)


def test_shortcut_refuses_another_space_and_points_to_colorspace_split():
    with pytest.raises(InfominError, match="fixes space=lab.*colorspace-split"):
        VIEWS.get("lab-split").make({"space": "hsv"}, 16)
    with pytest.raises(InfominError, match="its knobs: crop-scale"):
        VIEWS.get("lab-split").make({"sigma": "1"}, 16)
