"""The live k-NN monitor of InstDis and MoCo: is the encoder learning, while it trains?

A linear probe needs its own training run; a weighted k-nearest-neighbour vote on frozen features
needs none, so it can run every epoch and show learning as it happens (Wu et al. 2018: k = 20,
cosine similarity, votes weighted by exp(sim / 0.07)). It must not perturb the run it watches:
the monitor draws no random numbers and leaves weights, BN statistics and train/eval modes as it
found them, so a run with the monitor is bit-identical to one without.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.data.base import ImageSet
from infomin_cli.data.source import BatchSource, as_source
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.features import extract_features
from infomin_cli.runtime.precision import FP32, Precision


@torch.no_grad()
def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 20, temperature: float = 0.07, chunk: int = 256) -> float:
    """Top-1 (%) of a temperature-weighted k-NN vote on cosine similarity.

    Each test row's k most similar train rows vote for their class with weight exp(sim / T); the
    class with the largest summed weight wins. Test rows are scored `chunk` at a time, so memory is
    chunk x len(train) whatever the test set's size.
    """
    if len(test_feats) == 0 or len(train_feats) == 0:
        raise ValueError("k-NN accuracy needs at least one train and one test feature")
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    train_labels, test_labels = train_labels.to(train.device), test_labels.to(train.device)
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    k = min(k, len(train))
    correct = 0
    for start in range(0, len(test), chunk):
        sims, neighbours = (test[start : start + chunk] @ train.T).topk(k, dim=1)
        # exp((s - s_max) / T): the same vote as exp(s / T), scaled per row, and finite for any T
        weights = ((sims - sims[:, :1]) / temperature).exp()
        votes = torch.zeros(len(sims), classes, device=train.device).scatter_add_(1, train_labels[neighbours], weights)
        correct += int((votes.argmax(1) == test_labels[start : start + chunk]).sum())
    return 100.0 * correct / len(test)


class KnnMonitor:
    """Call with the model being trained; returns the k-NN top-1 (%) of `test` against `train`.

    Features are the encoders' default probe layer (`model.features(views.probe_inputs(batch))`),
    as the linear probe reads them. `max_train` caps the train items used (the first ones: datasets
    are stored shuffled or class-balanced), and `max_test` the test items, which bounds the cost of
    a call on large sets. The encoder runs at `precision`, the run's.
    """

    def __init__(self, views, train: BatchSource | ImageSet, test: BatchSource | ImageSet, label: str = "class",
                 device: torch.device | str = "cpu", k: int = 20, temperature: float = 0.07,
                 max_train: int | None = 5000, batch_size: int = 256, max_test: int | None = None,
                 precision: Precision = FP32) -> None:
        self.views, self.train, self.test = views, as_source(train), as_source(test)
        for split, source in (("train", self.train), ("test", self.test)):
            if label not in source.labels:
                have = ", ".join(sorted(source.labels)) or "none"
                raise InfominError(f"the k-NN monitor needs label {label!r} on the {split} split, which has labels: "
                                   f"{have}; pick one of those or turn the monitor off")
        self.device, self.precision = torch.device(device), precision
        self.k, self.temperature, self.batch_size = k, temperature, batch_size
        self.n_train = len(self.train) if max_train is None else min(max_train, len(self.train))
        self.train_labels = self.train.labels[label][: self.n_train].to(self.device)
        self.n_test = len(self.test) if max_test is None else min(max_test, len(self.test))
        self.test_labels = self.test.labels[label][: self.n_test].to(self.device)

    def features(self, model: nn.Module, source: BatchSource, limit: int | None) -> torch.Tensor:
        return extract_features(model, self.views, source, self.device, None, self.batch_size, limit, self.precision)

    def __call__(self, model: nn.Module) -> float:
        modes = [(module, module.training) for module in model.modules()]
        cuda = [self.device] if self.device.type == "cuda" else []
        try:
            # eval mode already keeps BN statistics and dropout still; fork_rng guarantees that no
            # view's probe path or encoder can move the run's random streams either
            with torch.random.fork_rng(devices=cuda), torch.no_grad():
                train = self.features(model, self.train, self.n_train)
                test = self.features(model, self.test, self.n_test)
        finally:
            for module, mode in modes:
                module.training = mode
        return knn_accuracy(train, self.train_labels, test, self.test_labels, self.k, self.temperature)
