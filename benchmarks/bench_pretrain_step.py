"""The trainer's own step (`engine.pretrain.train_step`) for each objective, and the bare encoder.

Same model, batch and machine, in one run, interleaved so that whatever else the machine does
falls on every row alike. Targets:
- the full in-batch step against the encoder's bare forward+backward on pre-made views: the
  pipeline's overhead (batch indexing, views, loss);
- each stateful objective's full step at >= 90 % of the in-batch step's img/s at equal batch and
  encoder (issue 9): the key encoder, queue, bank gathers and the after-step hooks must be cheap.

    python -m benchmarks.bench_pretrain_step [--views lab-split] [--encoder convnet] [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch

from benchmarks.report import write_section
from infomin_cli.config import RunConfig
from infomin_cli.data.source import InMemorySource
from infomin_cli.engine.pretrain import build_objective, make_optimizers, train_step
from infomin_cli.objectives import info_nce
from infomin_cli.objectives.base import make_views
from infomin_cli.runs import build, validate
from infomin_cli.runtime.device import make_generator

OBJECTIVES = (
    ("infonce", {}),
    ("moco", {"objective": "moco", "queue": 4096}),
    ("moco", {"objective": "moco", "queue": 65536}),
    ("memory-bank", {"objective": "memory-bank", "bank_negatives": 4096}),
    ("memory-bank", {"objective": "memory-bank", "bank_negatives": 16384}),
)


def _rate(step: Callable[[], None], batch: int, steps: int, device: torch.device) -> float:
    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def full_step(config: RunConfig) -> Callable[[], None]:
    """One call = one `train_step` of the trainer, on random batches of the pretraining set."""
    config = validate(config)
    built = build(config)
    source = InMemorySource(built.dataset.pretrain, built.device)
    objective = build_objective(config, built, len(source)).to(built.device)
    optimizers = make_optimizers(config, objective, built.model)
    schedules = {name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0) for name, opt in optimizers.items()}
    generator = make_generator(built.device, 0)

    def step() -> None:
        index = torch.randint(0, len(source), (config.batch_size,), device=built.device, generator=generator)
        train_step(objective, built.model, optimizers, schedules, source, built.views, generator, index)

    return step


def bare_step(config: RunConfig) -> Callable[[], None]:
    """The encoders' forward + backward + Adam on fixed, pre-made views (channels_last on CUDA), at the
    run's precision."""
    config = validate(config)
    built = build(config)
    model = built.model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    images = built.dataset.pretrain.images[: config.batch_size].to(built.device)
    v1, v2 = make_views(built.views, images, make_generator(built.device, 0))

    def step() -> None:
        with built.precision.autocast(built.device):
            z1, z2 = model(v1, v2)
        loss = info_nce(z1, z2, config.temperature).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measure(config: RunConfig, steps: int, repeats: int = 3) -> dict[str, float]:
    """Bare encoder, the trainer's full step, and the views alone, img/s (bench_gpu's rows)."""
    built = build(validate(config))
    images = built.dataset.pretrain.images.to(built.device)
    generator = make_generator(built.device, 0)

    def views_only() -> None:
        index = torch.randint(0, len(images), (config.batch_size,), device=built.device, generator=generator)
        make_views(built.views, images[index], generator)

    bare, full = bare_step(config), full_step(config)
    rates = {"bare": 0.0, "full": 0.0}
    for _ in range(repeats):
        rates["bare"] = max(rates["bare"], _rate(bare, config.batch_size, steps, built.device))
        rates["full"] = max(rates["full"], _rate(full, config.batch_size, steps, built.device))
    rates["views"] = _rate(views_only, config.batch_size, steps, built.device)
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", default="lab-split")
    parser.add_argument("--encoder", default="convnet")
    parser.add_argument("--dataset", default="embedded")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    rows = []
    for views in (args.views, "infomin-aug"):
        base = RunConfig(dataset=args.dataset, views=views, encoder=args.encoder, batch_size=args.batch_size,
                         image_size=args.image_size, device=args.device)
        device = build(validate(base)).device
        steps = {"bare encoder": bare_step(base)}
        for name, extra in OBJECTIVES:
            label = name + "".join(f" {k.split('_')[-1]} {v}" for k, v in extra.items() if k != "objective")
            steps[label] = full_step(base.merged(extra))
        best: dict[str, float] = {}
        for _ in range(args.repeats):  # interleaved: noise from other jobs falls on every row alike
            for label, step in steps.items():
                best[label] = max(best.get(label, 0.0), _rate(step, args.batch_size, args.steps, device))
        inbatch = best["infonce"]
        for label, rate in best.items():
            if label == "bare encoder":
                note = f"in-batch full step = {inbatch / rate:.0%} of this"
            elif label == "infonce":
                note = "reference"
            else:
                ratio = rate / inbatch
                note = f"{ratio:.0%} of in-batch: {'met' if ratio >= 0.9 else 'NOT met'}"
            rows.append(f"| {views} | {args.encoder} | {args.batch_size} | {label} | {rate:,.0f} | {note} |")
            print(rows[-1], flush=True)
    body = ("Images/s of the trainer's own `train_step` (index the on-device uint8 set, build both views, "
            "objective, Adam, after-step hook) per objective, and of the bare encoder on pre-made views; best of "
            f"{args.repeats} interleaved repeats of {args.steps} steps. Target: every stateful objective >= 90 % "
            "of the in-batch step.\n\n"
            "| views | encoder | batch | step | img/s | against the in-batch step |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))
    write_section("pretrain-step", body, "python -m benchmarks.bench_pretrain_step " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
