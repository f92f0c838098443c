"""B.4's factor probes: digit and background by a linear classifier (top-1 %), position by a linear
regression (px error), each from the sequence and the image representation; and the supervised
reference, the same architecture trained end to end on one factor.

The data is a fake with the moving-mnist splits' contract (labels digit and background, target
position, items of frames then frame t), so these claims do not depend on the generator: frame
t's digit is a coloured square (its colour the digit class) over a tinted background (its tint the
background class), and the square's centre is the position target. Sequences here are 3 frames,
not the paper's 10: the code never depends on k, and the tests stay fast on one thread.
"""

import math

import pytest
import torch

from infomin_cli.config import RunConfig
from infomin_cli.data import Dataset
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.factors import (
    factor_probe_run,
    supervised_rows,
    train_position_probe,
    train_supervised,
)
from infomin_cli.evaluate.probes.factors import FACTOR_LABELS, FACTOR_LAYERS, SUPERVISED
from infomin_cli.models import ContrastiveModel
from infomin_cli.results import read_results
from infomin_cli.runs import LoadedRun

K, SIDE, SQUARE, CLASSES = 3, 32, 10, 3


class FakeSequences:
    """A `BatchSource` of (K + 4, 3, S, S) items: frames 1..K, frame t at index K, 3 unused layers.
    The square sits still, so the frames and frame t agree on every factor."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = {"digit": torch.randint(CLASSES, (n,), generator=g),
                       "background": torch.randint(CLASSES, (n,), generator=g)}
        self.corner = torch.randint(0, SIDE - SQUARE + 1, (n, 2), generator=g)  # (x, y)
        self.targets = {"position": self.corner.float() + SQUARE / 2}

    def __len__(self) -> int:
        return len(self.corner)

    @property
    def shape(self) -> tuple[int, ...]:
        return (K + 4, 3, SIDE, SIDE)

    def batch(self, indices: torch.Tensor, device=None) -> torch.Tensor:
        idx = indices.cpu()
        s = torch.arange(SIDE)
        x, y = self.corner[idx, 0:1], self.corner[idx, 1:2]
        inside = ((s >= y) & (s < y + SQUARE))[:, :, None] & ((s >= x) & (s < x + SQUARE))[:, None, :]
        tint = torch.nn.functional.one_hot(self.labels["background"][idx], 3)[:, :, None, None] * 60
        colour = torch.nn.functional.one_hot(self.labels["digit"][idx], 3)[:, :, None, None] * 255
        frame = torch.where(inside[:, None], torch.maximum(tint, colour), tint).to(torch.uint8)  # (B, 3, S, S)
        items = torch.zeros(len(idx), K + 4, 3, SIDE, SIDE, dtype=torch.uint8)
        items[:, : K + 1] = frame[:, None]
        return items if device is None else items.to(device)


class FakeViews:
    """The view pair's contract: probe_inputs -> [frames 1..K then frame t], normalised."""

    channels, shared_encoder = (3, 3), True

    def probe_inputs(self, batch: torch.Tensor) -> list[torch.Tensor]:
        return [batch[:, : K + 1].float() / 64 - 2]

    def __call__(self, batch, generator):
        x = self.probe_inputs(batch)[0]
        return x[:, :K], x[:, K]


def fake_data(n_train: int = 256, n_test: int = 128) -> Dataset:
    train = FakeSequences(n_train, seed=1)
    return Dataset("fake-moving-mnist", train, train, FakeSequences(n_test, seed=2),
                   {"digit": ["r", "g", "b"], "background": ["r", "g", "b"]})


def config(**changes) -> RunConfig:
    fields = dict(dataset="moving-mnist", views="moving-mnist", knobs={"shared": "digit"}, encoder="seq-convnet",
                  feat_dim=64, batch_size=32, epochs=1, seed=0)
    return RunConfig(**{**fields, **changes})


def fake_run(tmp_path, trained: bool = True) -> LoadedRun:
    torch.manual_seed(0)
    model = ContrastiveModel("seq-convnet", "linear", (3, 3), True, 64).eval()
    return LoadedRun(tmp_path / "mm-run", config(), fake_data(), FakeViews(), model, torch.device("cpu"), SIDE,
                     {"i_nce": 1.5, "K": 32, "loss": 2.0}, trained)


def mean_predictor_error(xy: torch.Tensor, test_xy: torch.Tensor) -> float:
    return float((test_xy - xy.mean(0)).norm(dim=1).mean())


def positions(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * 64


def test_position_probe_of_a_linear_function_of_the_position_is_exact():
    xy, test_xy = positions(400, 0), positions(200, 1)
    mix = torch.randn(2, 16, generator=torch.Generator().manual_seed(2))
    assert train_position_probe(xy @ mix + 3, xy, test_xy @ mix + 3, test_xy) < 0.1  # px, of a 64 px canvas


def test_position_probe_of_random_features_predicts_about_the_mean():
    g = torch.Generator().manual_seed(3)
    xy, test_xy = positions(1000, 0), positions(500, 1)
    error = train_position_probe(torch.randn(1000, 64, generator=g), xy, torch.randn(500, 64, generator=g), test_xy)
    baseline = mean_predictor_error(xy, test_xy)
    assert baseline * 0.95 < error < baseline * 1.1


def test_factor_probes_read_each_label_from_both_layers(tmp_path):
    """Even an untrained ConvNet + LSTM keeps colour (digit, background) linearly readable."""
    csv, run = tmp_path / "results.csv", fake_run(tmp_path)
    guess = mean_predictor_error(run.dataset.train.targets["position"], run.dataset.test.targets["position"])
    rows = factor_probe_run(None, FACTOR_LABELS, FACTOR_LAYERS, results=csv, epochs=30, run=run)
    assert [(r["probe_label"], r["probe_layer"]) for r in rows] == [
        ("digit", "sequence"), ("digit", "image"), ("position", "sequence"), ("position", "image"),
        ("background", "sequence"), ("background", "image")]
    for row in rows:
        if row["probe_label"] == "position":
            assert (row["metric_name"], row["unit"], row["probe_task"]) == ("px_error", "px", "regression")
            assert 0 <= row["metric_value"] < guess  # guessing the mean position is off by ~9 px here
        else:
            assert (row["metric_name"], row["unit"], row["probe_task"]) == ("top1", "%", "classification")
            assert row["metric_value"] > 100 / CLASSES + 25
            assert row["probe_epochs"] == 30
    assert rows[-1]["run_id"] == "mm-run" and rows[-1]["i_nce"] == 1.5 and rows[-1]["knob_value"] == "digit"
    assert read_results(csv)["metric_name"].tolist() == [r["metric_name"] for r in rows]


def test_factor_probes_of_the_untrained_baseline_are_named_so(tmp_path):
    rows = factor_probe_run(None, labels=("background",), layers=("image",), epochs=5, random_init=True,
                            run=fake_run(tmp_path, trained=False))
    assert len(rows) == 1 and rows[0]["run_id"] == "mm-run+random-init" and rows[0]["i_nce"] is None


def test_an_unknown_factor_or_layer_lists_the_valid_ones(tmp_path):
    with pytest.raises(InfominError, match="digit, background, position|background, digit, position"):
        factor_probe_run(None, labels=("colour",), layers=FACTOR_LAYERS, run=fake_run(tmp_path))
    with pytest.raises(InfominError, match="sequence, image"):
        factor_probe_run(None, labels=FACTOR_LABELS, layers=("conv4",), run=fake_run(tmp_path))


@pytest.mark.parametrize("task, layer", [("digit", "image"), ("background", "image"), ("position", "image"),
                                         ("digit", "sequence"), ("position", "sequence")])
def test_the_supervised_reference_learns_its_own_factor(task, layer):
    data = fake_data()
    result = train_supervised(data.train, data.test, FakeViews(), task, layer, epochs=6, batch_size=32)
    if task == "position":  # px error, well under guessing the mean position (~9 px here)
        assert result.metric < 0.6 * mean_predictor_error(data.train.targets["position"], data.test.targets["position"])
    else:  # top-1 (%), chance is 33 %
        assert result.metric > 90
    assert math.isfinite(result.loss)


def test_supervised_rows_share_the_probe_schema(tmp_path):
    csv = tmp_path / "results.csv"
    rows = supervised_rows(config(), labels=("digit", "position"), layers=("image",), epochs=1, device="cpu", kind=SUPERVISED,
                           results=csv, data=fake_data(64, 32), views=FakeViews())
    assert [(r["probe_label"], r["metric_name"], r["unit"]) for r in rows] == [("digit", "top1", "%"),
                                                                               ("position", "px_error", "px")]
    row = rows[0]
    assert row["run_id"] == "supervised-digit-image-seed0" and row["knob_value"] == "supervised"
    assert row["knob_name"] == "shared" and row["objective"] == "supervised" and row["i_nce"] is None
    assert rows[0]["config_hash"] != rows[1]["config_hash"]
    assert len(read_results(csv)) == 2
    one = supervised_rows(config(), "background", "image", epochs=1, device="cpu", kind=SUPERVISED, data=fake_data(64, 32),
                          views=FakeViews())  # one label and layer by name: one model
    assert [(r["probe_label"], r["probe_layer"]) for r in one] == [("background", "image")]


def test_supervised_training_takes_as_many_optimiser_steps_as_the_contrastive_run():
    from infomin_cli.evaluate.factors import SUPERVISED_BATCH, matching_epochs

    data = fake_data(256, 32)  # pretrain = train = 256 sequences here
    for epochs, batch, limit in ((5, 128, None), (5, 64, 128), (3, 32, None)):
        steps = epochs * (min(limit or 256, 256) // batch)
        supervised = matching_epochs(config(epochs=epochs, batch_size=batch, limit=limit), data)
        assert supervised == max(1, -(-steps * SUPERVISED_BATCH // 256))  # ceil: never fewer steps
