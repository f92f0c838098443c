"""Full pretrain step vs the encoder's bare forward+backward on pre-made tensors.

Same model, batch and machine, in one run. The gap is the pipeline's overhead (batch indexing,
view building, loss); the target on CPU is a full step at >= 90 % of the bare encoder's rate.

    python -m benchmarks.bench_pretrain_step [--views lab-split] [--encoder convnet] [--steps 20]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from benchmarks.report import write_section
from infomin_cli.config import RunConfig
from infomin_cli.engine.device import autocast, make_generator
from infomin_cli.engine.run import build, validate
from infomin_cli.objectives import info_nce


def _rate(step, batch: int, steps: int, device: torch.device) -> float:
    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def measure(config: RunConfig, steps: int) -> dict[str, float]:
    built = build(validate(config))
    device, dataset, views, model = built.device, built.dataset, built.views, built.model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    images = dataset.pretrain.images.to(device)
    generator = make_generator(device, 0)
    b = config.batch_size
    fixed_v1, fixed_v2 = views(images[:b], generator)

    def train_on(v1, v2):
        with autocast(device):
            z1, z2 = model(v1, v2)
        loss = info_nce(z1, z2, config.temperature).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def bare():
        train_on(fixed_v1, fixed_v2)

    def full():
        idx = torch.randint(0, len(images), (b,), device=device, generator=generator)
        train_on(*views(images[idx], generator))

    def views_only():
        idx = torch.randint(0, len(images), (b,), device=device, generator=generator)
        views(images[idx], generator)

    # interleave to share whatever else the machine is doing fairly between the two
    bare_rates, full_rates = [], []
    for _ in range(3):
        bare_rates.append(_rate(bare, b, steps, device))
        full_rates.append(_rate(full, b, steps, device))
    return {"bare": max(bare_rates), "full": max(full_rates), "views": _rate(views_only, b, steps, device)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", default="lab-split")
    parser.add_argument("--encoder", default="convnet")
    parser.add_argument("--dataset", default="embedded")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    rows = []
    for views, encoder in ((args.views, args.encoder), ("infomin-aug", args.encoder)):
        config = RunConfig(dataset=args.dataset, views=views, encoder=encoder, batch_size=args.batch_size,
                           image_size=args.image_size, device=args.device)
        r = measure(config, args.steps)
        ratio = r["full"] / r["bare"]
        rows.append(f"| {views} | {encoder} | {args.batch_size} | {r['bare']:,.0f} | {r['full']:,.0f} | "
                    f"{ratio:.0%} | {'met' if ratio >= 0.9 else 'NOT met'} | {r['views']:,.0f} |")
        print(rows[-1])
    body = ("Images/s of a whole training step (index the on-device uint8 set, build both views, encoders, "
            "InfoNCE, Adam) vs the same step on pre-made view tensors. Best of 3 interleaved repeats.\n\n"
            "| views | encoder | batch | bare encoder img/s | full step img/s | full / bare | target >= 90 % | views alone img/s |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    write_section("pretrain-step", body, "python -m benchmarks.bench_pretrain_step " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
