"""GPU benchmark: views at ImageNet size, colour conversion, and whole pretrain steps on one CUDA device.

Run on a machine with a GPU: `python -m benchmarks.bench_gpu` (about two minutes on an H100).
Target (issue 3): the full InfoMin augmentation, two 224 px views per image, >= 10,000 images/s on one
H100. Inputs are 256 px uint8 batches already on the GPU (what a GPU-side decoder or an on-device
cache hands over); several input buffers are rotated so the L2 cache does not flatter the numbers.
Timing: CUDA events around each repeat, median of the repeats, after warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time

import numpy as np
import torch

from benchmarks.bench_views import SKIMAGE_REFERENCES
from infomin_cli.views import VIEWS
from infomin_cli.views.colorspaces import convert

SOURCE, SIZE = 256, 224
FAMILIES = (
    ("infomin-aug", {"level": "crop"}),
    ("infomin-aug", {"level": "crop+jitter"}),
    ("infomin-aug", {"level": "crop+jitter+blur"}),
    ("infomin-aug", {"level": "infomin"}),
    ("infomin-aug", {"level": "infomin+jigsaw"}),
    ("lab-split", {}),
    ("freq-split", {}),
)


def median_ms(fn, reps: int, warmup: int = 3) -> float:
    """Median milliseconds of `fn()` over `reps` event-timed repeats."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def view_rates(batch: int, reps: int) -> list[tuple[str, float]]:
    device = torch.device("cuda")
    g = torch.Generator(device=device).manual_seed(0)
    buffers = [torch.randint(0, 256, (batch, 3, SOURCE, SOURCE), dtype=torch.uint8, device=device) for _ in range(4)]
    rows = []
    for family, knobs in FAMILIES:
        pair = VIEWS.get(family).make(knobs, SIZE)
        turn = itertools.cycle(buffers)

        def step(pair=pair, turn=turn):
            pair(next(turn), g)

        ms = median_ms(step, reps)
        label = family + (" " + " ".join(f"{k}={v}" for k, v in knobs.items()) if knobs else "")
        rows.append((label, batch / (ms / 1000)))
        print(f"views {label}: {rows[-1][1]:,.0f} img/s", flush=True)
    return rows


def kornia_rate(batch: int, reps: int) -> float | None:
    """The same full InfoMin Aug. through kornia.augmentation on the GPU (None without kornia)."""
    from benchmarks.kornia_views import available, infomin_pipeline, kornia_views

    if not available():
        return None
    device = torch.device("cuda")
    pipeline = infomin_pipeline(SIZE).to(device)
    buffers = itertools.cycle([torch.randint(0, 256, (batch, 3, SOURCE, SOURCE), dtype=torch.uint8, device=device)
                               for _ in range(4)])
    ms = median_ms(lambda: kornia_views(pipeline, next(buffers)), reps)
    print(f"views kornia.augmentation infomin: {batch / (ms / 1000):,.0f} img/s", flush=True)
    return batch / (ms / 1000)


def colour_rates(batch: int, reps: int) -> list[tuple[str, float, float]]:
    device = torch.device("cuda")
    x = torch.rand(batch, 3, SIZE, SIZE, device=device)
    arrays = [np.random.default_rng(i).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for i in range(32)]
    rows = []
    for space, fn in SKIMAGE_REFERENCES:
        ms = median_ms(lambda space=space: convert(x, space), reps)
        start = time.perf_counter()
        for a in arrays:
            fn(a)
        ref = len(arrays) / (time.perf_counter() - start)
        rows.append((space, batch / (ms / 1000), ref))
        print(f"colour {space}: {rows[-1][1]:,.0f} img/s vs scikit-image {ref:,.0f}", flush=True)
    return rows


def step_rates(steps: int) -> list[str]:
    from benchmarks.bench_pretrain_step import measure
    from infomin_cli.config import RunConfig

    rows = []
    for views, encoder, size, batch in (
        ("lab-split", "convnet", None, 256),
        ("infomin-aug", "convnet", None, 256),
        ("infomin-aug", "resnet18", 224, 256),
        ("infomin-aug", "resnet50", 224, 256),
    ):
        config = RunConfig(dataset="embedded", views=views, encoder=encoder, batch_size=batch, image_size=size, device="cuda")
        r = measure(config, steps)
        ratio = r["full"] / r["bare"]
        rows.append(
            f"| {views} | {encoder} | {size or 32} | {batch} | {r['bare']:,.0f} | {r['full']:,.0f} | {ratio:.0%} | {r['views']:,.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA device visible; run it on a machine with a GPU")
    torch.backends.cudnn.benchmark = True

    views = view_rates(args.batch, args.reps)
    kornia = kornia_rate(args.batch, args.reps)
    colour = colour_rates(args.batch, args.reps)
    steps = step_rates(args.steps)
    full = dict(views)["infomin-aug level=infomin"]
    lines = [
        f"Views: {SOURCE} px uint8 batches of {args.batch} on the GPU -> two {SIZE} px views per image "
        f"(img/s counts source images, i.e. pairs); CUDA-event median of {args.reps} repeats.",
        "",
        "| family | img/s (two views each) |",
        "|---|---:|",
        *[f"| {label} | {rate:,.0f} |" for label, rate in views],
        f"| kornia.augmentation, same InfoMin Aug. (library check) | "
        f"{'not installed' if kornia is None else f'{kornia:,.0f}'} |",
        "",
        f"Colour conversion, float {SIZE} px batches of {args.batch} on the GPU vs scikit-image image by image on "
        "one core of the same machine:",
        "",
        "| colour space | GPU img/s | scikit-image img/s | speed-up |",
        "|---|---:|---:|---:|",
        *[f"| {s} | {o:,.0f} | {r:,.0f} | {o / r:,.0f}x |" for s, o, r in colour],
        "",
        "Whole pretrain step (index the on-device uint8 set, both views, encoder(s) in bf16 autocast + "
        "channels_last, InfoNCE, Adam) vs the same step on pre-made views; embedded data, views resized to the "
        "size shown:",
        "",
        "| views | encoder | px | batch | bare encoder img/s | full step img/s | full / bare | views alone img/s |",
        "|---|---|---|---|---|---|---|---|",
        *steps,
        "",
        f"- GPU target, full InfoMin Aug >= 10,000 img/s at {SIZE} px ({torch.cuda.get_device_name(0)}): "
        f"{full:,.0f} img/s — {'met' if full >= 10_000 else 'NOT met'}.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from benchmarks.report import write_section

        write_section("gpu", body, "python -m benchmarks.bench_gpu " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
