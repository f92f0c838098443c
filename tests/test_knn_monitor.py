"""The live k-NN monitor: a weighted cosine vote that watches a run without touching it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from infomin_cli.data.source import InMemorySource
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.features import extract_features
from infomin_cli.evaluate.knn import KnnMonitor, knn_accuracy


def _clusters(n: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return torch.nn.functional.one_hot(y, classes).float() * 5 + torch.randn(n, classes, generator=g) * 0.3, y


def test_perfectly_separable_features_give_100_percent():
    train_x, train_y = _clusters(200, 4, seed=0)
    test_x, test_y = _clusters(80, 4, seed=1)
    assert knn_accuracy(train_x, train_y, test_x, test_y) == 100.0


def test_accuracy_is_invariant_to_feature_scale_because_similarity_is_cosine():
    g = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(300, 8, generator=g), torch.randn(100, 8, generator=g)
    train_y, test_y = torch.randint(0, 3, (300,), generator=g), torch.randint(0, 3, (100,), generator=g)
    base = knn_accuracy(train_x, train_y, test_x, test_y, k=10)
    row_scales = torch.rand(300, 1, generator=g) * 100 + 0.01  # every train row scaled differently
    assert knn_accuracy(train_x * row_scales, train_y, test_x * 1e-3, test_y, k=10) == base


def test_the_vote_is_temperature_weighted():
    """One class-0 neighbour almost on the query against two class-1 neighbours further away:
    a sharp temperature lets the close one win; a flat one is a plain majority, which class 1 wins."""
    query = torch.tensor([[1.0, 0.0]])
    angle = torch.tensor(1.0)  # cos = 0.54 to the query
    train = torch.stack([torch.tensor([1.0, 0.01]), torch.stack([angle.cos(), angle.sin()]),
                         torch.stack([angle.cos(), -angle.sin()])])
    labels = torch.tensor([0, 1, 1])
    assert knn_accuracy(train, labels, query, torch.tensor([0]), k=3, temperature=0.07) == 100.0
    assert knn_accuracy(train, labels, query, torch.tensor([0]), k=3, temperature=1000.0) == 0.0


def test_test_rows_are_scored_in_chunks_with_the_same_result():
    train_x, train_y = _clusters(100, 5, seed=2)
    g = torch.Generator().manual_seed(3)
    test_x, test_y = torch.randn(77, 5, generator=g), torch.randint(0, 5, (77,), generator=g)
    assert knn_accuracy(train_x, train_y, test_x, test_y, chunk=7) == knn_accuracy(train_x, train_y, test_x, test_y)


@dataclass
class TinyRun:
    views: object
    model: torch.nn.Module
    dataset: object


@pytest.fixture
def tiny_run() -> TinyRun:
    """A fresh two-encoder model with BatchNorm, its views, and the tiny dataset of conftest."""
    from infomin_cli.data import load_dataset
    from infomin_cli.models import ContrastiveModel
    from infomin_cli.views import VIEWS

    views = VIEWS.get("lab-split").make({}, 16)
    torch.manual_seed(0)
    model = ContrastiveModel("convnet", "linear", views.channels, views.shared_encoder, 16)
    return TinyRun(views, model, load_dataset("tiny"))


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("training", [True, False])
def test_the_monitor_leaves_weights_bn_statistics_modes_and_rng_untouched(tiny_run, training: bool):
    model = tiny_run.model.train(training)
    model.encoders[0].eval() if training else model.encoders[0].train()  # a mixed mode must survive too
    modes = [m.training for m in model.modules()]
    state, cpu_rng = _snapshot(model), torch.get_rng_state()
    monitor = KnnMonitor(tiny_run.views, tiny_run.dataset.train, tiny_run.dataset.test, device="cpu", k=5)
    accuracy = monitor(model)
    assert 0.0 <= accuracy <= 100.0
    assert [m.training for m in model.modules()] == modes
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)  # includes BN running stats and counters
    assert torch.equal(torch.get_rng_state(), cpu_rng)


def test_the_monitor_reads_the_features_the_linear_probe_reads(tiny_run):
    data, model = tiny_run.dataset, tiny_run.model
    monitor = KnnMonitor(tiny_run.views, InMemorySource(data.train), data.test, device="cpu", k=7, max_train=50)
    train = extract_features(model, tiny_run.views, data.train.images[:50], torch.device("cpu"))
    test = extract_features(model, tiny_run.views, data.test, torch.device("cpu"))
    expected = knn_accuracy(train, data.train.labels["class"][:50], test, data.test.labels["class"], k=7)
    assert monitor(model) == expected


def test_a_label_the_data_lacks_is_one_line_naming_the_labels_it_has(tiny_run):
    with pytest.raises(InfominError, match="needs label 'digit'.*class, colour") as info:
        KnnMonitor(tiny_run.views, tiny_run.dataset.train, tiny_run.dataset.test, label="digit")
    assert "\n" not in str(info.value)
