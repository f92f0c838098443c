"""Why does the Moving MNIST supervised *sequence* reference not learn position? Controlled trials
of the preset's supervised baseline (evaluate/factors.py `train_supervised`, seed 0, the embedded
`moving-mnist` preset's data and views), changing one thing at a time.

    OMP_NUM_THREADS=1 python docs/figures/moving_mnist_position_trials.py [options]

    --frame F        the position target is the digit's centre at frame F (the preset: 20; 10 is
                     the last frame the sequence layer sees)
    --layer L        sequence (frames 1..10) or image (frame 20)
    --encoder E      seq-convnet (the preset's), seq-convnet-flat (the last 4x4 map flattened into
                     the LSTM instead of the global average pool), seq-convnet-coord (two
                     coordinate channels added to the input, pool kept), or coords (no pixels:
                     the LSTM(64) fed the digit's rounded corner at frames 1..10, in canvas units
                     centred -- what the LSTM and the budget can do with perfect sight)
    --epochs N       over the 4,000 train sequences at batch 32 (5 = the preset's matching budget)
    --lr LR          Adam's rate (the preset's 2e-3), cosine to 0
    --noise-px S     with `coords`: Gaussian noise of S px added to each corner coordinate (fixed
                     per split), standing in for imperfect sight
    --n-train N      fit on N train sequences drawn from the train split's world (the package's
                     4,000; more sequences at the same steps tells overfitting from too few steps)

Prints one JSON line: the test error (px) with BatchNorm in eval mode (what the package reports)
and in train mode (batch statistics), the train-split error (first 2,000 sequences; over- or
under-fitting), the last epoch's mean training MSE in canvas units and what guessing the train
mean gives on both (chance), and the wall time. Dev-only encoders are registered here, not in
the package.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from infomin_cli.config import resolve_config
from infomin_cli.data.moving_mnist import K_FRAMES, MovingMnistSource
from infomin_cli.data.source import as_source, iter_batches
from infomin_cli.evaluate import factors
from infomin_cli.models import ENCODERS
from infomin_cli.models.seq_convnet import HIDDEN, WIDTHS, SeqConvNet
from infomin_cli.runs import build_views, image_size_of, load_data, validate


class FlatSeqConvNet(SeqConvNet):
    """The LSTM reads the last 4x4x64 map flattened (1,024-d) instead of its global average."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels)
        self.stages["pool"] = nn.Identity()
        cells = 16  # a 32 px canvas at total stride 8
        self.lstm = nn.LSTM(WIDTHS[-1] * cells, HIDDEN, num_layers=1, batch_first=True)


class CoordSeqConvNet(SeqConvNet):
    """CoordConv: x and y in [-1, 1] as two extra input channels; the global pool kept."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels + 2)

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w).expand(n, 1, h, w)
        return super().encode_images(torch.cat([x, xs, ys], 1))


class CoordsLstm(nn.Module):
    """No pixels: the LSTM(64) on the digit's rounded corner at frames 1..k (perfect sight)."""

    layers = ["sequence"]
    out_dim = HIDDEN

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, HIDDEN, num_layers=1, batch_first=True)

    def features(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x)
        return hidden[-1]


ENCODERS.add("seq-convnet-flat", FlatSeqConvNet)
ENCODERS.add("seq-convnet-coord", CoordSeqConvNet)
ENCODERS.add("coords", CoordsLstm)


class CornerViews:
    """Stands in for the views when the encoder is `coords`: the batch already is the model's input."""

    def probe_inputs(self, corners: torch.Tensor) -> list[torch.Tensor]:
        return [corners]


class CornerSource:
    """The split's sequences as (k, 2) rounded corners (canvas units, centred) instead of pixels."""

    def __init__(self, source: MovingMnistSource, noise_px: float = 0.0, seed: int = 0) -> None:
        world = source.world
        frames = torch.arange(1, K_FRAMES + 1)
        corners = world.corners(source.factors, frames).round()  # what the frames show: the rounded corner
        corners = corners + noise_px * torch.randn(corners.shape, generator=torch.Generator().manual_seed(seed))
        self.x = (corners + world.side / 2) / world.canvas - 0.5
        self.targets, self.labels = source.targets, source.labels
        self.shape = (K_FRAMES, 2, world.canvas)  # shape[-1] is the canvas side train_supervised scales by

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, indices: torch.Tensor, device=None) -> torch.Tensor:
        return self.x[indices].to(device or "cpu")


def retarget(source: MovingMnistSource, frame: int) -> None:
    """The position target becomes the digit's centre at `frame` (the package's: frame 20)."""
    world = source.world
    source.targets = {"position": (world.corners(source.factors, frame) + world.side / 2).float()}


def px_error(out: torch.Tensor, xy: torch.Tensor, side: float) -> float:
    return float(((out + 0.5) * side - xy).norm(dim=1).mean())


@torch.no_grad()
def predict(model: nn.Module, source, views, n: int, train_mode: bool) -> torch.Tensor:
    model.train(train_mode)
    outs = [model(views.probe_inputs(batch)[0]).float() for batch in iter_batches(source, 256, "cpu", limit=n)]
    return torch.cat(outs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frame", type=int, default=20)
    parser.add_argument("--layer", default="sequence", choices=("sequence", "image"))
    parser.add_argument("--encoder", default="seq-convnet")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=factors.SUPERVISED_LR)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--noise-px", type=float, default=0.0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    config = validate(resolve_config("moving-mnist", {"seed": 0}, "embedded"))  # the table's preset
    data = load_data(config)
    views = build_views(config, image_size_of(config, data))
    train, test = as_source(data.train), as_source(data.test)
    if args.n_train is not None:  # the split's own generator seed (spec.seed + 1), more draws
        train = MovingMnistSource(train.world, args.n_train, 1)
    for source in (train, test):
        retarget(source, args.frame)
    if args.encoder == "coords":
        train, test = CornerSource(train, args.noise_px, 1), CornerSource(test, args.noise_px, 2)
        views = CornerViews()
    side = float(train.shape[-1])

    captured: dict[str, nn.Module] = {}
    package_eval = factors.evaluate_supervised

    def spy(model, *rest, **kw):
        captured["model"] = model
        return package_eval(model, *rest, **kw)

    factors.evaluate_supervised = spy
    started = time.perf_counter()
    result = factors.train_supervised(train, test, views, "position", args.layer, args.epochs, "cpu", lr=args.lr,
                                      seed=0, encoder=args.encoder)
    seconds = time.perf_counter() - started
    model = captured["model"]
    n_train = 2000
    train_xy, test_xy = train.targets["position"], test.targets["position"]
    train_err = px_error(predict(model, train, views, n_train, False), train_xy[:n_train], side)
    test_bn_train = px_error(predict(model, test, views, len(test), True), test_xy, side)  # last: updates BN stats
    mean = train_xy.mean(0, keepdim=True)
    print(json.dumps({
        "frame": args.frame, "layer": args.layer, "encoder": args.encoder, "epochs": args.epochs, "lr": args.lr,
        "n_train": len(train), "noise_px": args.noise_px,
        "test_px": round(result.metric, 2), "test_px_bn_batch_stats": round(test_bn_train, 2),
        "train_px": round(train_err, 2), "chance_test_px": round(float((test_xy - mean).norm(dim=1).mean()), 2),
        "chance_train_px": round(float((train_xy[:n_train] - mean).norm(dim=1).mean()), 2),
        "last_epoch_mse": round(result.loss, 4),
        "chance_mse": round(float((((train_xy - mean) / side) ** 2).mean()), 4),
        "seconds": round(seconds)}))


if __name__ == "__main__":
    main()
