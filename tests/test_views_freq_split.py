"""freq-split: the blur is torchvision's, and the two views sum back to the image."""

import pytest
import torch
from torchvision.transforms.functional import gaussian_blur as tv_gaussian_blur

from infomin_cli.errors import InfominError
from infomin_cli.views import VIEWS
from infomin_cli.views.blur import gaussian_blur, kernel_size_for
from infomin_cli.views.crop import random_resized_crop

torch.set_num_threads(1)


def _images(n=3, size=32):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("sigma", [0.3, 0.7, 1.0, 2.5])
def test_blur_matches_torchvision_gaussian_blur_within_1e_5(sigma):
    x = _images().float() / 255
    size = kernel_size_for(sigma)
    ours = gaussian_blur(x, sigma)
    ref = tv_gaussian_blur(x, kernel_size=[size, size], sigma=[sigma, sigma])
    assert (ours - ref).abs().max() < 1e-5


def test_per_sample_sigmas_blur_each_sample_like_torchvision():
    x = _images(3).float() / 255
    sigmas = torch.tensor([0.1, 1.0, 2.0])
    ours = gaussian_blur(x, sigmas, size=13)
    for b, s in enumerate(sigmas.tolist()):
        ref = tv_gaussian_blur(x[b : b + 1], kernel_size=[13, 13], sigma=[s, s])
        assert (ours[b : b + 1] - ref).abs().max() < 1e-5


def test_freq_split_views_sum_back_to_the_image():
    pair = VIEWS.get("freq-split").make({"sigma": "0.7"}, 32)
    images = _images()
    v1, v2 = pair.probe_inputs(images)
    assert torch.allclose(pair.reconstruct(v1, v2), images.float() / 255, atol=1e-5)
    # training views: the same per-sample crop, reproduced from the same seed, is what they sum to
    t1, t2 = pair(images, torch.Generator().manual_seed(0))
    crop = random_resized_crop(images.float() / 255, 32, torch.Generator().manual_seed(0), scale=(0.2, 1.0))
    assert torch.allclose(pair.reconstruct(t1, t2), crop, atol=1e-5)


def test_freq_split_has_two_three_channel_encoders_and_bounded_views():
    pair = VIEWS.get("freq-split").make({}, 24)
    v1, v2 = pair(_images(), torch.Generator().manual_seed(1))
    assert pair.channels == (3, 3) and not pair.shared_encoder
    assert v1.shape == v2.shape == (3, 3, 24, 24)
    assert v1.abs().max() <= 1 + 1e-5 and v2.abs().max() <= 2 + 1e-5


def test_larger_sigma_moves_energy_from_the_low_to_the_high_view():
    images = _images()
    energy = []
    for sigma in (0.3, 3.0):
        _, high = VIEWS.get("freq-split").make({"sigma": sigma}, 32).probe_inputs(images)
        energy.append(high.pow(2).mean().item())
    assert energy[1] > 2 * energy[0]


def test_sigma_out_of_range_names_the_valid_range():
    with pytest.raises(InfominError, match=r"\[0.1, 8\]"):
        VIEWS.get("freq-split").make({"sigma": "20"}, 32)
