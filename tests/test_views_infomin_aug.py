"""infomin-aug: each step matches torchvision's per-image transform, per sample, on whole batches."""

import pytest
import torch
import torchvision.transforms.functional as TF
from scipy.stats import ks_2samp
from torchvision.transforms import ColorJitter

from infomin_cli.errors import InfominError
from infomin_cli.views import VIEWS
from infomin_cli.views import jitter as J
from infomin_cli.views.infomin_aug import LEVELS, random_blur
from infomin_cli.views.jigsaw import MIN_TILE, cut_tiles, tile_geometry
from infomin_cli.views.randaugment import OPS, _photometric, _pixel_affine, rand_augment, warp

torch.set_num_threads(1)


def _images(n=8, size=48, seed=0):
    return torch.randint(
        0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def _smooth_images(n=8, size=48):
    """Low-frequency images, so that view differences reflect the augmentation, not pixel noise."""
    x = torch.rand(n, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    return (torch.nn.functional.interpolate(x, size=size, mode="bilinear") * 255).to(torch.uint8)


@pytest.mark.parametrize(
    "ours,theirs,factors",
    [
        (J.adjust_brightness, TF.adjust_brightness, [0.2, 1.0, 1.8]),
        (J.adjust_contrast, TF.adjust_contrast, [0.2, 1.0, 1.8]),
        (J.adjust_saturation, TF.adjust_saturation, [0.2, 1.0, 1.8]),
        (J.adjust_hue, TF.adjust_hue, [-0.5, 0.1, 0.45]),
    ],
)
def test_each_jitter_operation_matches_torchvision_per_sample_within_1e_5(ours, theirs, factors):
    x = _images(3).float() / 255
    out = ours(x, torch.tensor(factors))
    for b, f in enumerate(factors):
        assert (out[b] - theirs(x[b], f)).abs().max() < 1e-5


@pytest.mark.parametrize("strength", [0.25, 1.0, 2.0])
def test_jitter_factor_distributions_match_torchvision_color_jitter(strength):
    b, c, s, h = J.simclr_strengths(strength)
    reference = ColorJitter(b, c, s, h)
    torch.manual_seed(0)
    ref = torch.tensor(
        [
            reference.get_params(
                reference.brightness, reference.contrast, reference.saturation, reference.hue
            )[1:]
            for _ in range(2000)
        ]
    )
    ours = J.sample_jitter(2000, strength, 1.0, torch.Generator().manual_seed(1), torch.device("cpu")).factors
    for k in range(4):
        assert ks_2samp(ref[:, k].numpy(), ours[:, k].numpy()).pvalue > 1e-3, k
        assert ours[:, k].min() >= ref[:, k].min() - 0.02 and ours[:, k].max() <= ref[:, k].max() + 0.02


def test_jitter_order_is_a_uniform_random_permutation_per_sample_applied_with_p_0_8():
    params = J.sample_jitter(8000, 1.0, 0.8, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert (params.order.sort(dim=1).values == torch.arange(4)).all()
    counts = torch.stack([(params.order == k).float().mean(0) for k in range(4)])  # op x position
    assert (counts - 0.25).abs().max() < 0.03
    assert abs(params.applied.float().mean().item() - 0.8) < 0.02


def test_color_jitter_applies_each_samples_own_order():
    # brightness 2 then contrast 0 vs contrast 0 then brightness 2 give different images
    x = _images(2).float() / 255
    factors = torch.tensor([[2.0, 0.0, 1.0, 0.0], [2.0, 0.0, 1.0, 0.0]])
    order = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3]])
    out = J.color_jitter(x, J.JitterFactors(factors, order, torch.tensor([True, True])))
    expected0 = TF.adjust_contrast(TF.adjust_brightness(x[0], 2.0), 0.0)
    expected1 = TF.adjust_brightness(TF.adjust_contrast(x[1], 0.0), 2.0)
    assert torch.allclose(out[0], expected0, atol=1e-5) and torch.allclose(out[1], expected1, atol=1e-5)


def test_batched_jitter_equals_torchvision_sample_by_sample_in_each_samples_order():
    x = _images(48).float() / 255
    params = J.sample_jitter(48, 1.5, 0.8, torch.Generator().manual_seed(3), x.device)
    out = J.color_jitter(x, params)
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for b in range(48):
        expected = x[b]
        if params.applied[b]:
            for op in params.order[b].tolist():
                expected = ops[op](expected, params.factors[b, op].item())
        assert (out[b] - expected).abs().max() < 1e-4, b


def test_grayscale_is_applied_to_about_a_fifth_of_the_samples():
    x = torch.rand(4000, 3, 2, 2)
    out = J.random_grayscale(x, 0.2, torch.Generator().manual_seed(0))
    grey = (out[:, 0] == out[:, 1]).all(dim=(1, 2)) & (out[:, 1] == out[:, 2]).all(dim=(1, 2))
    assert abs(grey.float().mean().item() - 0.2) < 0.025


def test_random_blur_blurs_about_half_the_samples():
    x = _images(400, 16).float() / 255
    out = random_blur(x, torch.Generator().manual_seed(0))
    changed = (out - x).abs().amax(dim=(1, 2, 3)) > 1e-3
    assert 0.4 < changed.float().mean().item() < 0.6


def test_posterize_and_solarize_match_torchvision_on_uint8():
    x = _images(2)
    level = torch.tensor([10.0, 7.5])  # 4 and 3 bits; thresholds 256 (a no-op, as in timm) and 192
    out = (_photometric("Posterize", x.float() / 255, level) * 255).round().to(torch.uint8)
    assert torch.equal(out[0], TF.posterize(x[0], 4)) and torch.equal(out[1], TF.posterize(x[1], 3))
    out = (_photometric("Solarize", x.float() / 255, level) * 255).round().to(torch.uint8)
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], TF.solarize(x[1], 192))


def test_translate_moves_the_image_by_the_timm_fraction_and_fills_with_the_mean_colour():
    x = torch.rand(1, 3, 20, 20)
    affine = _pixel_affine(
        "TranslateXRel", torch.tensor([10.0]), torch.tensor([1.0]), 20, 20
    )  # 0.45*20 = 9 px
    out = warp(x, affine)
    assert torch.allclose(out[0, :, :, :11], x[0, :, :, 9:], atol=1e-5)
    assert torch.allclose(
        out[0, :, :, 11:], torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1).expand(3, 20, 9)
    )


def test_rand_augment_picks_operations_per_sample_and_stays_in_range():
    x = _smooth_images(64, 24).float() / 255
    out = rand_augment(x, torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1 and len(OPS) == 15
    changed = (out - x).abs().amax(dim=(1, 2, 3)) > 1e-3
    assert 0.5 < changed.float().mean() < 0.95  # each op p=0.5, two layers: about 3/4 changed
    again = rand_augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_jigsaw_tiles_are_nine_windows_one_inside_each_grid_cell():
    side, tile = 3 * 10, 7
    cell_id = torch.arange(9.0).view(1, 1, 3, 3).repeat_interleave(10, dim=2).repeat_interleave(10, dim=3)
    x = cell_id.expand(16, 3, side, side).contiguous()
    tiles = cut_tiles(x, tile, torch.Generator().manual_seed(0))
    assert tiles.shape == (16, 9, 3, tile, tile)
    for j in range(9):  # every pixel of tile j comes from cell j, in grid order
        assert (tiles[:, j] == j).all()


def test_jigsaw_tile_offsets_differ_between_tiles_and_samples():
    ramp = torch.arange(30.0).view(1, 1, 1, 30).expand(32, 1, 30, 30).contiguous()
    tiles = cut_tiles(ramp, 7, torch.Generator().manual_seed(0))
    starts = tiles[:, :, 0, 0, 0] - torch.tensor([0, 10, 20] * 3)  # column offset of each window in its cell
    assert starts.min() >= 0 and starts.max() <= 3 and len(set(starts.flatten().tolist())) == 4


def test_jigsaw_tiles_have_pycontrasts_geometry_at_224_px():
    assert tile_geometry(224) == (64, 85)
    pair = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 32)
    tiles = pair.jigsaw_tiles(_images(), torch.Generator().manual_seed(0))
    assert pair.has_jigsaw and tiles.shape == (8, 9, 3, MIN_TILE, MIN_TILE)
    assert not VIEWS.get("infomin-aug").make({"level": "infomin"}, 32).has_jigsaw


@pytest.mark.parametrize("level", LEVELS)
def test_every_rung_gives_two_normalised_views_from_one_encoder(level):
    pair = VIEWS.get("infomin-aug").make({"level": level}, 32)
    v1, v2 = pair(_images(), torch.Generator().manual_seed(0))
    assert pair.shared_encoder and pair.channels == (3, 3)
    assert v1.shape == v2.shape == (8, 3, 32, 32)
    assert -3 < v1.mean() < 3 and 0.2 < v1.std() < 3


def test_higher_rungs_make_the_two_views_less_alike():
    images = _smooth_images(64, 32)

    def distance(level):
        v1, v2 = VIEWS.get("infomin-aug").make({"level": level}, 32)(images, torch.Generator().manual_seed(0))
        return (v1 - v2).pow(2).mean().item()

    crop, jitter, full = distance("crop"), distance("crop+jitter"), distance("infomin")
    assert crop < jitter < full


def test_views_are_deterministic_given_the_seed_and_the_two_views_differ():
    pair = VIEWS.get("infomin-aug").make({"crop-scale": "0.08", "jitter": "0.5"}, 32)
    a = pair(_images(), torch.Generator().manual_seed(9))
    b = pair(_images(), torch.Generator().manual_seed(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.allclose(a[0], a[1])


def test_probe_input_is_the_normalised_whole_image():
    (probe,) = VIEWS.get("infomin-aug").make({}, 48).probe_inputs(_images())
    assert probe.shape == (8, 3, 48, 48)


def test_bad_knob_name_and_out_of_range_values_list_what_is_valid():
    family = VIEWS.get("infomin-aug")
    with pytest.raises(InfominError, match="crop-scale, jitter, level"):
        family.make({"strength": "1"}, 32)
    with pytest.raises(InfominError, match=r"\[0.05, 2.5\]"):
        family.make({"jitter": "9"}, 32)
    with pytest.raises(InfominError, match="crop\\+jitter"):
        family.make({"level": "everything"}, 32)


def test_sharpness_matches_torchvision_adjust_sharpness_per_sample():
    x = _images(2).float() / 255
    factors = [1.9, 0.3]
    out = _photometric("Sharpness", x, (torch.tensor(factors) - 0.1) / 1.8 * 10)
    for b, f in enumerate(factors):
        assert (out[b] - TF.adjust_sharpness(x[b], f)).abs().max() < 1e-5
