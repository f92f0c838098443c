"""Colorful Moving MNIST's generator (paper B.4): trajectories, rendering, fresh and fixed splits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from infomin_cli.data.moving_mnist import (
    K_FRAMES,
    T_REF,
    MovingMnistWorld,
    corner_at,
    digit_side,
    reflect,
)
from infomin_cli.views.moving_mnist import SHARED_CHOICES, compose_v2, factors_of, frame_t


def tiny_world(canvas: int = 32, digits: int = 20, backgrounds: int = 6) -> MovingMnistWorld:
    """Random digit and background banks: every pixel distinct enough that a misplaced one shows."""
    g = torch.Generator().manual_seed(1)
    side = digit_side(canvas)
    bank = torch.randint(1, 256, (digits, side, side), generator=g, dtype=torch.uint8)
    photos = torch.randint(0, 256, (backgrounds, 3, canvas + 16, canvas + 16), generator=g, dtype=torch.uint8)
    return MovingMnistWorld(bank, torch.arange(digits) % 10, photos, torch.arange(backgrounds) % 3, canvas)


def slow_frame(world: MovingMnistWorld, background: int, crop, digit: int, corner) -> torch.Tensor:
    """The same frame drawn pixel block by pixel block with plain slicing."""
    x0, y0 = (int(v) for v in crop)
    canvas = world.backgrounds[background, :, y0 : y0 + world.canvas, x0 : x0 + world.canvas].clone()
    x, y = (int(round(float(v))) for v in corner)
    layer = torch.zeros(world.canvas, world.canvas, dtype=torch.uint8)
    layer[y : y + world.side, x : x + world.side] = world.digits[digit]
    return torch.maximum(canvas, layer)


def test_reflection_is_exact_folding_into_the_canvas():
    span = 18.0
    q = torch.linspace(-100, 100, 2001, dtype=torch.float64)
    r = reflect(q, span)
    assert r.min() >= 0 and r.max() <= span
    inside = (q >= 0) & (q <= span)
    assert torch.allclose(r[inside], q[inside])  # no wall touched: unchanged
    assert torch.allclose(reflect(-q, span), r)  # the wall at 0 mirrors
    assert torch.allclose(reflect(2 * span - q, span), r)  # so does the wall at span
    # one step that passes a wall by 2 px comes back 2 px: the bounce loses nothing
    assert float(reflect(torch.tensor(span + 2.0), span)) == pytest.approx(span - 2.0)
    # several bounces between two frames: a step of 3.5 spans lands where folding says
    assert float(reflect(torch.tensor(3.5 * span), span)) == pytest.approx(0.5 * span)


def test_speed_is_constant_between_bounces():
    world = tiny_world()
    g = torch.Generator().manual_seed(0)
    factors = world.draw(500, g)
    frames = torch.arange(1, T_REF + 1)
    corners = world.corners(factors, frames).double()  # (N, T, 2)
    unfolded = factors.start[:, None].double() + (frames[None, :, None] - 1) * world.speed * torch.stack(
        [torch.cos(factors.angle), torch.sin(factors.angle)], -1)[:, None].double()
    # between two frames whose unfolded coordinates sit in the same fold interval, the digit moves by exactly the speed
    fold = torch.floor(unfolded / world.span)
    same = (fold[:, 1:] == fold[:, :-1]).all(-1)
    steps = (corners[:, 1:] - corners[:, :-1]).norm(dim=-1)
    assert same.sum() > 1000
    assert torch.allclose(steps[same], torch.full_like(steps[same], world.speed), atol=1e-3)
    assert (steps <= world.speed + 1e-3).all()  # a bounce never speeds it up
    assert world.speed == pytest.approx(0.1 * world.canvas)


def test_start_and_direction_are_uniform():
    world = tiny_world()
    factors = world.draw(4000, torch.Generator().manual_seed(3))
    for coordinate in (0, 1):
        assert stats.kstest((factors.start[:, coordinate] / world.span).numpy(), "uniform").pvalue > 1e-3
    assert stats.kstest((factors.angle / (2 * math.pi)).numpy(), "uniform").pvalue > 1e-3
    assert float(factors.start.min()) >= 0 and float(factors.start.max()) <= world.span


def test_frames_are_the_digit_over_its_background_at_the_trajectory():
    world = tiny_world()
    factors = world.draw(6, torch.Generator().manual_seed(4))
    items = world.render(factors)
    assert items.shape == (6, K_FRAMES + 4, 3, 32, 32) and items.dtype == torch.uint8
    corners = world.corners(factors, torch.arange(1, K_FRAMES + 1))
    for i in range(6):
        for f in (0, 4, K_FRAMES - 1):
            want = slow_frame(world, int(factors.background[i]), factors.crop[i], int(factors.digit[i]), corners[i, f])
            assert torch.equal(items[i, f], want)
        at_t = corner_at(factors.start[i], factors.angle[i], T_REF, world.speed, world.span)
        want_t = slow_frame(world, int(factors.background[i]), factors.crop[i], int(factors.digit[i]), at_t)
        assert torch.equal(frame_t(items)[i], want_t)


def test_position_label_is_the_digit_centre_at_frame_t():
    world = tiny_world()
    factors = world.draw(50, torch.Generator().manual_seed(5))
    centre = world.centre_at_t(factors)
    corner = corner_at(factors.start, factors.angle, T_REF, world.speed, world.span)
    assert torch.allclose(centre, corner + world.side / 2)


@pytest.mark.parametrize("shared", SHARED_CHOICES)
def test_v2_shares_exactly_the_named_factors(shared):
    """v2 is frame t's digit / position / background where named, and the fresh draw's elsewhere."""
    world = tiny_world()
    factors = world.draw(5, torch.Generator().manual_seed(6))
    v2 = compose_v2(world.render(factors), factors_of(shared))
    at_t = world.corners(factors, T_REF)
    names = factors_of(shared)
    for i in range(5):
        background = factors.background[i] if "background" in names else factors.fresh_background[i]
        crop = factors.crop[i] if "background" in names else factors.fresh_crop[i]
        digit = factors.digit[i] if "digit" in names else factors.fresh_digit[i]
        corner = at_t[i] if "position" in names else factors.fresh_corner[i]
        assert torch.equal(v2[i], slow_frame(world, int(background), crop, int(digit), corner))


def test_unshared_factors_agree_with_frame_t_only_by_chance():
    world = tiny_world(digits=200, backgrounds=30)
    factors = world.draw(4000, torch.Generator().manual_seed(7))
    same_class = (world.digit_labels[factors.digit] == world.digit_labels[factors.fresh_digit]).float().mean()
    assert 0.07 < float(same_class) < 0.13  # 10 classes
    same_bg = (world.background_labels[factors.background] == world.background_labels[factors.fresh_background]).float().mean()
    assert 0.28 < float(same_bg) < 0.39  # 3 classes
    corr = np.corrcoef(world.corners(factors, T_REF)[:, 0].numpy(), factors.fresh_corner[:, 0].numpy())[0, 1]
    assert abs(corr) < 0.05


def test_each_epoch_draws_new_sequences_and_a_rerun_the_same():
    from infomin_cli.data.moving_mnist import FreshSequences

    source = FreshSequences(tiny_world(), 64, seed=0)
    order = torch.arange(64)

    def epoch(generator):
        return torch.cat(list(source.epoch_batches(order, 16, "cpu", generator)))

    g = torch.Generator().manual_seed(11)
    first, second = epoch(g), epoch(g)
    assert not torch.equal(first, second)
    assert torch.equal(first, epoch(torch.Generator().manual_seed(11)))
    assert first.shape == (64, K_FRAMES + 4, 3, 32, 32)


def test_fixed_splits_give_the_same_item_for_the_same_index():
    from infomin_cli.data.moving_mnist import MovingMnistSource

    source = MovingMnistSource(tiny_world(), 40, seed=2)
    a = source.batch(torch.tensor([3, 7, 3]))
    assert torch.equal(a[0], a[2]) and not torch.equal(a[0], a[1])
    assert source.labels["digit"].shape == (40,) and source.targets["position"].shape == (40, 2)
    assert torch.equal(source.subset(10).batch(torch.arange(10)), source.batch(torch.arange(10)))


def test_embedded_default_needs_no_files():
    from infomin_cli.data import load_dataset

    data = load_dataset("moving-mnist")
    assert data.test.shape == (K_FRAMES + 4, 3, 32, 32)
    assert set(data.test.labels) == {"digit", "background"}
    assert len(data.label_names["background"]) == 8  # the sample photos
    assert int(data.test.labels["digit"].max()) == 9
