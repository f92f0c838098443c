"""Batched RandomResizedCrop draws the same boxes as torchvision's get_params, and crops exactly."""

import math

import pytest
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import RandomResizedCrop

from infomin_cli.views.crop import crop_resize, random_resized_crop, sample_boxes

torch.set_num_threads(1)
N = 4000


def _torchvision_boxes(height, width, scale, ratio, n=N):
    torch.manual_seed(0)
    img = torch.empty(1, height, width)
    return torch.tensor([RandomResizedCrop.get_params(img, list(scale), list(ratio)) for _ in range(n)])


def _ours(height, width, scale, ratio, n=N):
    g = torch.Generator().manual_seed(1)
    return sample_boxes(n, height, width, scale, ratio, g, torch.device("cpu"))


@pytest.mark.parametrize(
    "height,width,scale,ratio",
    [
        (96, 96, (0.08, 1.0), (3 / 4, 4 / 3)),
        (96, 96, (0.2, 1.0), (3 / 4, 4 / 3)),
        (64, 200, (0.5, 1.0), (3 / 4, 4 / 3)),  # wide image: many rejections and the central fallback
    ],
)
def test_crop_area_aspect_and_position_distributions_match_torchvision(height, width, scale, ratio):
    ref, ours = (
        _torchvision_boxes(height, width, scale, ratio).double(),
        _ours(height, width, scale, ratio).double(),
    )
    for name, a, b in [
        ("area", ref[:, 2] * ref[:, 3], ours[:, 2] * ours[:, 3]),
        ("log aspect", (ref[:, 3] / ref[:, 2]).log(), (ours[:, 3] / ours[:, 2]).log()),
        ("centre y", ref[:, 0] + ref[:, 2] / 2, ours[:, 0] + ours[:, 2] / 2),
        ("centre x", ref[:, 1] + ref[:, 3] / 2, ours[:, 1] + ours[:, 3] / 2),
    ]:
        assert ks_2samp(a.numpy(), b.numpy()).pvalue > 1e-3, name


def test_fallback_is_torchvisions_central_crop_when_no_attempt_fits():
    # a 10x400 strip: with ratio (3/4, 4/3) no box of area >= 0.9 fits, so every draw falls back
    ref = _torchvision_boxes(10, 400, (0.9, 1.0), (3 / 4, 4 / 3), n=50)
    ours = _ours(10, 400, (0.9, 1.0), (3 / 4, 4 / 3), n=50)
    assert (ours == ref[0]).all() and (ref == ref[0]).all()


def test_boxes_always_lie_inside_the_image():
    boxes = _ours(50, 70, (0.08, 1.0), (3 / 4, 4 / 3))
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 50).all() and (left + w <= 70).all()
    assert (h > 0).all() and (w > 0).all()


def test_crop_resize_of_a_box_at_its_own_size_is_an_exact_slice_and_flip_mirrors_it():
    images = torch.rand(2, 3, 20, 30)
    boxes = torch.tensor([[2, 5, 8, 8], [10, 0, 8, 8]])
    out = crop_resize(images, boxes, 8, flip=torch.tensor([False, True]))
    assert torch.allclose(out[0], images[0, :, 2:10, 5:13], atol=1e-5)
    assert torch.allclose(out[1], images[1, :, 10:18, 0:8].flip(-1), atol=1e-5)


def test_random_resized_crop_is_deterministic_given_the_seed_and_varies_per_sample():
    images = torch.rand(1, 3, 32, 32).expand(6, 3, 32, 32)
    a = random_resized_crop(images, 16, torch.Generator().manual_seed(3), scale=(0.2, 1.0))
    b = random_resized_crop(images, 16, torch.Generator().manual_seed(3), scale=(0.2, 1.0))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])  # same image, different per-sample boxes
    assert math.isfinite(a.sum().item())
