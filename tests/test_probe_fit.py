"""The probes' one training loop: what it steps, and when."""

import pytest
import torch

from infomin_cli.evaluate.fit import fit
from infomin_cli.runtime.schedule import cosine


def _setup(total: int):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    return model, optimizer, cosine(optimizer, total)


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_a_batch_without_a_loss_is_not_trained_on_but_still_counts_on_the_schedule():
    model, optimizer, schedule = _setup(6)
    before = model.weight.detach().clone()
    losses = fit(model, optimizer, schedule, 2, lambda: range(3), lambda b: None)
    assert losses == [] and schedule.last_epoch == 6 and torch.equal(model.weight, before)


def test_an_epoch_schedule_steps_once_per_epoch_and_the_hook_sees_every_finished_epoch():
    model, optimizer, schedule = _setup(10)
    seen = []
    fit(model, optimizer, schedule, 3, lambda: [torch.ones(4, 2)] * 5, lambda x: model(x).pow(2).mean(),
        start=1, per_epoch_schedule=True, end_epoch=lambda done, losses: seen.append((done, len(losses))))
    assert schedule.last_epoch == 2 and seen == [(2, 5), (3, 5)]
