"""Colorful Moving MNIST: sequences generated on the device against the training step that eats them.

Target (issue 11): generation runs at >= 10x the rate at which `train_step` consumes sequences, so
fresh sequences every epoch cost the trainer nothing measurable. Both are timed in one run,
interleaved, on the same device and batch: generation is `world.render(world.draw(B, g))` (the
trainer's `epoch_batches`), the step is `engine.pretrain.train_step` of the `moving-mnist` preset
(ConvNet + LSTM, in-batch InfoNCE) on pre-generated batches. Reported per canvas size (the
embedded 32 px and the paper's 64 px) in sequences/s and frames/s (k = 10 frames + v2 per sequence).

The step is also timed with the frames in plain NCHW (`SeqConvNet.memory_format`), interleaved in
the same rounds: the baseline that the encoder's channels_last layout is measured against.

    python -m benchmarks.bench_moving_mnist [--rounds 3] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from benchmarks.report import write_section
from infomin_cli.config import resolve_config
from infomin_cli.data.moving_mnist import K_FRAMES
from infomin_cli.engine.pretrain import build_objective, make_optimizers, train_step
from infomin_cli.runs import build, validate
from infomin_cli.runtime.device import make_generator
from infomin_cli.runtime.schedule import cosine


class Pregenerated:
    """A source whose batches are already rendered: the step's timing then holds no generation."""

    def __init__(self, batches: list[torch.Tensor]) -> None:
        self.batches, self.i, self.labels = batches, 0, {}

    def batch(self, index: torch.Tensor, device=None) -> torch.Tensor:
        self.i = (self.i + 1) % len(self.batches)
        return self.batches[self.i]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(canvas: int, rounds: int, steps: int) -> dict[str, float]:
    config = validate(resolve_config("moving-mnist", {"image_size": canvas, "knn_monitor": False}, "embedded"))
    built = build(config)
    device, batch = built.device, config.batch_size
    world = built.dataset.pretrain.world.to(device)
    generator = make_generator(device, 0)
    objective = build_objective(config, built, len(built.dataset.pretrain)).to(device)
    optimizers = make_optimizers(config, objective, built.model)
    schedules = {name: cosine(optimizer, 10_000) for name, optimizer in optimizers.items()}
    pre = Pregenerated([world.render(world.draw(batch, generator)) for _ in range(4)])
    index = torch.arange(batch, device=device)
    gen_rates, step_rates, nchw_rates = [], [], []
    encoders = list(built.model.encoders)  # one shared seq-convnet (v1 and v2 are the same kind of frame)

    def step_rate(memory_format: torch.memory_format) -> float:
        """Sequences/s of `train_step` with the encoders' frames in `memory_format` (one warm step first)."""
        for encoder in encoders:
            encoder.memory_format = memory_format
        train_step(objective, built.model, optimizers, schedules, pre, built.views, generator, index)
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            train_step(objective, built.model, optimizers, schedules, pre, built.views, generator, index)
        _sync(device)
        return batch * steps / (time.perf_counter() - start)

    for _ in range(rounds):  # interleaved: load on the shared machine falls on all three alike
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps * 5):
            world.render(world.draw(batch, generator))
        _sync(device)
        gen_rates.append(batch * steps * 5 / (time.perf_counter() - start))
        step_rates.append(step_rate(torch.channels_last))
        nchw_rates.append(step_rate(torch.contiguous_format))  # the baseline: the same step on NCHW frames
    for encoder in encoders:
        encoder.memory_format = torch.channels_last
    gen, step, nchw = (statistics.median(r) for r in (gen_rates, step_rates, nchw_rates))
    return {"canvas": canvas, "generate": gen, "step": step, "nchw": nchw, "ratio": gen / step}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--canvas", type=int, nargs="+", default=[32, 64])
    args = parser.parse_args(argv)
    rows = [measure(c, args.rounds, args.steps) for c in args.canvas]
    frames = K_FRAMES + 1
    lines = ["| canvas | generation (seq/s) | train step (seq/s) | step (frames/s) | generation / step | target ≥ 10x "
             "| step, NCHW frames (seq/s) | channels_last / NCHW |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['canvas']} px | {r['generate']:,.0f} | {r['step']:,.1f} | {r['step'] * frames:,.0f} | "
                     f"{r['ratio']:.1f}x | {'met' if r['ratio'] >= 10 else 'NOT met'} | {r['nchw']:,.1f} | "
                     f"{r['step'] / r['nchw']:.2f}x |")
    body = ("Median of the interleaved rounds; batch 128 (the paper's), moving-mnist preset (ConvNet 8-16-32-64 + "
            "LSTM 64, in-batch InfoNCE). Generation = drawing the factors and rendering frames 1-10 plus v2's layers "
            "on the device; the step = views + forward + backward + Adam on pre-generated batches, with the frames in "
            "channels_last (the encoder's layout) and, as the same-run baseline, in NCHW.\n\n" + "\n".join(lines))
    print(body)
    write_section("moving-mnist", body, "python -m benchmarks.bench_moving_mnist " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
