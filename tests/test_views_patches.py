"""patches: centres exactly d apart, placements uniform over those that fit; div2k/highres data."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import ks_2samp

from infomin_cli.data import load_dataset
from infomin_cli.errors import InfominError
from infomin_cli.views import VIEWS
from infomin_cli.views.patches import sample_patch_pairs

torch.set_num_threads(1)
CPU = torch.device("cpu")


def test_patch_centres_are_exactly_d_apart_and_both_patches_fit():
    first, second = sample_patch_pairs(2000, 120, 200, 32, 100.0, torch.Generator().manual_seed(0), CPU)
    assert torch.allclose((second - first).norm(dim=1), torch.full((2000,), 100.0, dtype=torch.float64))
    for corner in (first, second):
        assert (corner >= 0).all() and (corner[:, 0] <= 120 - 32).all() and (corner[:, 1] <= 200 - 32).all()


def test_directions_follow_the_uniform_placement_density_not_a_uniform_angle():
    # Uniform over fitting placements => p(theta) ∝ (span_y - d|sin|)(span_x - d|cos|), which favours
    # the long axis of a wide image. A sampler that re-aims c2 at the border would not match this.
    span_y, span_x, d = 88, 168, 80
    first, second = sample_patch_pairs(20000, 120, 200, 32, d, torch.Generator().manual_seed(1), CPU)
    delta = (second - first).numpy()
    theta = np.arctan2(delta[:, 0], delta[:, 1])
    grid = np.linspace(-math.pi, math.pi, 4001)
    density = (span_y - d * np.abs(np.sin(grid))) * (span_x - d * np.abs(np.cos(grid)))
    cdf = np.cumsum(density) / density.sum()
    reference = np.interp(np.random.default_rng(0).random(20000), cdf, grid)
    assert ks_2samp(theta, reference).pvalue > 1e-3


def test_given_the_direction_the_first_patch_is_uniform_over_where_the_pair_fits():
    first, second = sample_patch_pairs(20000, 100, 100, 20, 50.0, torch.Generator().manual_seed(2), CPU)
    delta = second - first
    horizontal = (delta[:, 0].abs() < 3) & (delta[:, 1] > 0)  # pointing right
    x = first[horizontal, 1].numpy()
    assert len(x) > 200
    assert ks_2samp(x, np.random.default_rng(0).random(20000) * (80 - 50)).pvalue > 1e-3


def test_distance_zero_gives_identical_views_and_larger_distance_different_ones():
    images = torch.randint(
        0, 256, (4, 3, 96, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    v1, v2 = VIEWS.get("patches").make({"distance": 0}, 32)(images, torch.Generator().manual_seed(0))
    assert torch.allclose(v1, v2)
    v1, v2 = VIEWS.get("patches").make({"distance": 40}, 32)(images, torch.Generator().manual_seed(0))
    assert v1.shape == (4, 3, 32, 32) and not torch.allclose(v1, v2)


def test_a_distance_that_cannot_fit_names_the_largest_that_can():
    images = torch.zeros(2, 3, 96, 96, dtype=torch.uint8)
    with pytest.raises(InfominError, match="at most 91"):
        VIEWS.get("patches").make({"distance": 200}, 32)(images, torch.Generator())


def test_patches_family_wants_highres_data_and_a_whole_number_distance():
    family = VIEWS.get("patches")
    assert family.data_kind == "highres"
    with pytest.raises(InfominError, match="whole number"):
        family.make({"distance": "12.5"}, 32)


def _write_png(path, height, width, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)


def test_div2k_folder_gives_512px_crops_labelled_by_image(tmp_path):
    (tmp_path / "DIV2K_train_HR").mkdir()
    (tmp_path / "DIV2K_valid_HR").mkdir()
    _write_png(tmp_path / "DIV2K_train_HR" / "0001.png", 600, 1100, 0)
    _write_png(tmp_path / "DIV2K_train_HR" / "0002.png", 520, 530, 1)
    _write_png(tmp_path / "DIV2K_valid_HR" / "0801.png", 512, 512, 2)
    data = load_dataset("div2k", tmp_path)
    assert data.pretrain.images.shape[1:] == (3, 512, 512) and data.pretrain.images.dtype == torch.uint8
    assert data.pretrain.labels["image"].tolist() == [0, 0, 0, 1] and data.test.labels["image"].tolist() == [
        2
    ]


def test_div2k_without_images_or_folder_fails_in_one_line_naming_what_it_expects(tmp_path):
    with pytest.raises(InfominError, match="DIV2K_train_HR"):
        load_dataset("div2k", tmp_path)
    with pytest.raises(InfominError, match="not a folder"):
        load_dataset("div2k", tmp_path / "missing")
    with pytest.raises(InfominError, match="--data-root"):
        load_dataset("div2k", None)


def test_div2k_names_an_unreadable_image(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InfominError, match="broken.png"):
        load_dataset("div2k", tmp_path)


def test_highres_needs_no_files_and_holds_512px_crops_of_the_shipped_photos():
    data = load_dataset("highres")
    assert data.pretrain.images.shape[1:] == (3, 512, 512) and len(data.pretrain) >= 7
    assert len(set(data.pretrain.labels["image"].tolist())) == 7


def test_an_epoch_draws_pairs_in_proportion_to_the_patches_an_image_holds():
    patches = VIEWS.get("patches")
    assert patches.pairs_per_image(512, 512, 64) == 16  # a DIV2K crop: 64 patch areas
    assert patches.pairs_per_image(32, 32, 16) == 1  # an embedded glyph image: 4 patch areas
    assert VIEWS.get("lab-split").pairs_per_image(512, 512, 64) == 1  # whole-image views: one pair
