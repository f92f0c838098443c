"""The one cosine schedule: the trainer's and every probe's learning rate."""

import math

import pytest
import torch

from infomin_cli.runtime.schedule import cosine, cosine_factor


def _rates(total: int, steps: int, warmup: int = 0) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    schedule = cosine(optimizer, total, warmup)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return rates + [optimizer.param_groups[0]["lr"]]


def test_it_starts_at_the_base_rate_reaches_zero_at_the_last_step_and_stays_there():
    rates = _rates(10, 14)
    assert rates[0] == 2.0 and rates[5] == pytest.approx(1.0)
    assert rates[10:] == [0.0] * 5  # stepping past the end never climbs back up the cosine


def test_it_falls_monotonically_as_half_a_cosine():
    rates = _rates(50, 50)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[25] == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi / 2)))


def test_a_warm_up_rises_linearly_to_the_base_rate_and_then_follows_the_cosine():
    rates = _rates(20, 20, warmup=4)
    assert rates[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert rates[4] == 2.0 and rates[12] == pytest.approx(1.0) and rates[20] == 0.0


def test_without_warm_up_the_factor_is_the_trainers_closed_form_bit_for_bit():
    total = 37
    assert all(cosine_factor(s, total) == 0.5 * (1 + math.cos(math.pi * min(s, total) / total)) for s in range(60))


def test_a_warm_up_as_long_as_the_schedule_is_refused():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="warmup"):
        cosine(optimizer, 5, warmup=5)
