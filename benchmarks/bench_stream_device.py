"""The device-decode path of streamed folders, measured on this CPU against the worker path.

Run: `OMP_NUM_THREADS=1 python -m benchmarks.bench_stream_device` (a few minutes on 2 cores;
`--quick` for a smoke run that writes nothing). It writes ImageNet-like JPEGs (about 500x375, q90,
`bench_stream.make_folder`) into a temporary directory, then, in one process:

1. Crops. C.3's crops of a batch of decoded photos (two 224 px views and the 255 px JigSaw crop,
   per photo, boxes drawn from per-photo seeds): one photo at a time with `OriginalCrops` (the
   worker path: torchvision's antialiased `resized_crop`), all at once with `OriginalCrops.batched`
   (`cut_crops`: roi_align on padded canvases, what the GPU runs), and, the alternative it was chosen
   over, grid_sample on the same canvases. Photos/s on one thread, and each method's difference
   from the per-photo crops (grey levels: mean, and the worst crop's mean).
2. An epoch. `StreamSource.epoch_batches` with InfoMin Aug.'s stream crops at 224 px through the
   worker path (workers decode and crop) and through the device-decode path with its CPU stand-in
   (workers read bytes and draw boxes; libjpeg-turbo decodes the batch and roi_align crops it in
   the prefetch thread), same folder, same workers, rounds interleaved, median reported.

These are CPU figures. They say nothing about a GPU, where nvjpeg and CUDA roi_align do the work
(`python -m benchmarks.gpu_check` measures that).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.bench_stream import SIZE, make_folder, reader_arguments, timed
from infomin_cli.data.source import epoch_batches
from infomin_cli.data.stream import Fit, StreamSource, read_image
from infomin_cli.views import VIEWS
from infomin_cli.views.crop import OriginalCrops, crop_resize

BATCH = 64


def grid_sample_crops(images: list[torch.Tensor], boxes: torch.Tensor, flips: torch.Tensor,
                      sizes: tuple[int, ...]) -> torch.Tensor:
    """The rejected alternative: the photos edge-padded into one canvas, one grid_sample per crop."""
    rows, cols = max(im.shape[1] for im in images), max(im.shape[2] for im in images)
    canvas = torch.stack([F.pad(im.float()[None], (0, cols - im.shape[2], 0, rows - im.shape[1]), mode="replicate")[0]
                          for im in images])
    out = torch.zeros(len(images), len(sizes), 3, max(sizes), max(sizes), dtype=torch.uint8)
    for k, size in enumerate(sizes):
        crop = crop_resize(canvas, boxes[:, k], size, flips[:, k])
        out[:, k, :, :size, :size] = crop.round().clamp(0, 255).to(torch.uint8)
    return out


def crop_rows(files: list[str], rounds: int) -> list[tuple[str, float, float, float]]:
    views = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, SIZE)
    crops: OriginalCrops = views.stream_crops
    images = [read_image(f) for f in files[:BATCH]]
    drawn = [crops.draw(im.shape[1], im.shape[2], torch.Generator().manual_seed(s)) for s, im in enumerate(images)]
    boxes, flips = torch.stack([b for b, _ in drawn]), torch.stack([f for _, f in drawn])
    methods = {
        "per photo: OriginalCrops (resized_crop, antialias), the worker path":
            lambda: torch.stack([crops(im, torch.Generator().manual_seed(s)) for s, im in enumerate(images)]),
        "batched: OriginalCrops.batched (roi_align, adaptive sampling)": lambda: crops.batched(images, boxes, flips),
        "batched alternative: grid_sample on the same canvases": lambda: grid_sample_crops(images, boxes, flips,
                                                                                           crops.sizes),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    outputs = {}
    for _ in range(rounds):  # interleaved
        for name, run in methods.items():
            start = time.perf_counter()
            outputs[name] = run()
            times[name].append(time.perf_counter() - start)
    reference = next(iter(outputs.values()))
    rows = []
    for name, out in outputs.items():
        per_crop = (out.float() - reference.float()).abs().flatten(2).mean(-1)
        rows.append((name, len(images) / statistics.median(times[name]), float(per_crop.mean()), float(per_crop.max())))
        print(f"{name}: {rows[-1][1]:,.1f} photos/s, mean {rows[-1][2]:.3f}, worst crop {rows[-1][3]:.3f}", flush=True)
    return rows


def epoch_rates(files: list[str], workers: int, rounds: int, limit: int) -> dict[str, list[float]]:
    views = VIEWS.get("infomin-aug").make({}, SIZE)
    rates: dict[str, list[float]] = {"worker": [], "device": []}
    for r in range(rounds):
        for path in rates:
            source = StreamSource(files, {}, Fit(round(SIZE * 256 / 224)), workers=workers,
                                  decode_on_device=path == "device")
            g = torch.Generator().manual_seed(r)
            order = torch.randperm(len(files), generator=g)
            batches = epoch_batches(source, order[: len(order) // BATCH * BATCH], BATCH, "cpu", g, views)
            rate, _ = timed(batches, limit)
            rates[path].append(rate)
            print(f"round {r + 1}: {path}-decode path {rate:,.1f} img/s", flush=True)
    return rates


def main(argv: list[str] | None = None) -> None:
    args = reader_arguments(__doc__.splitlines()[0], 1280, argv)
    torch.set_num_threads(1)
    n, rounds, limit = (256, 1, 128) if args.quick else (2000, args.rounds, args.images)
    with tempfile.TemporaryDirectory(prefix="bench-stream-device-") as tmp:
        files = make_folder(Path(tmp), n, workers=args.workers)
        crops = crop_rows(files, rounds)
        epochs = epoch_rates(files, args.workers, rounds, limit)
    worker, device = statistics.median(epochs["worker"]), statistics.median(epochs["device"])
    lines = [
        f"1. C.3's crops (two {SIZE} px views + the 255 px JigSaw crop) of {BATCH} decoded photos of about 500x375, "
        f"one torch thread, median of {rounds} interleaved rounds; difference from the per-photo crops in grey "
        "levels (issue 21: nvjpeg and libjpeg-turbo differ by 0.10-1.34 per photo).",
        "",
        "| crops | photos/s | mean abs. difference | worst crop |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {rate:,.1f} | {mean:.3f} | {worst:.3f} |" for name, rate, mean, worst in crops],
        "",
        f"2. A streamed epoch of {n} such JPEGs, InfoMin Aug.'s two {SIZE} px views, batch {BATCH}, {args.workers} "
        f"worker processes either way, {limit} images per timed pass, {rounds} interleaved rounds (median).",
        "",
        "| path | rounds (img/s) | median (img/s) |",
        "|---|---|---:|",
        f"| worker path: workers decode and crop (today's CPU path) | "
        f"{', '.join(f'{r:,.1f}' for r in epochs['worker'])} | {worker:,.1f} |",
        f"| device-decode path, CPU stand-in: workers read bytes, one thread decodes + crops the batch | "
        f"{', '.join(f'{r:,.1f}' for r in epochs['device'])} | {device:,.1f} |",
        "",
        f"- Device-decode path with the CPU stand-in / worker path: {device / worker:.2f}x. On a CPU the stand-in "
        "decodes and crops in one thread where the workers share it out; it exists so the CPU suite runs the "
        "code CUDA runs, not to be fast here. No GPU figure follows from this.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        from benchmarks.report import write_section

        write_section("stream-device", body,
                      "OMP_NUM_THREADS=1 python -m benchmarks.bench_stream_device " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
