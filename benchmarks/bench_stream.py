"""Streaming benchmark: our StreamSource vs torchvision's ImageFolder + DataLoader, from JPEG files.

Run: `OMP_NUM_THREADS=1 python -m benchmarks.bench_stream` (several minutes on 2 cores; `--quick`
for a smoke run). It writes a folder of ImageNet-like JPEGs (about 500x375, quality 90, cut at
random places and scales from the photos scikit-image and scikit-learn ship, so they compress as
photos do) into a temporary directory, then reads them both ways with the same workers:

- ours: `StreamSource.epoch_batches` with InfoMin Aug.'s `stream_crops` at 224 px: decode, and
  both views' RandomResizedCrop + flip cut from the original photo, in worker processes;
- torchvision: `ImageFolder` + `DataLoader`, PIL decode, RandomResizedCrop(224, scale 0.2-1) + flip
  applied twice per image (MoCo's TwoCropsTransform), PILToTensor.

Rounds alternate baseline and ours in one process, so a shared machine's load hits both alike;
the median of the rounds is reported. Memory: the resident set (main process + workers) is
sampled (PSS, so pages shared with forked workers count once) while reading folders of two sizes; flat means it does not grow with the folder.
Targets (issue 10): throughput >= torchvision's; resident memory flat as the folder grows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from infomin_cli.data.stream import Fit, StreamSource
from infomin_cli.views import VIEWS

SIZE, BATCH, CLASSES = 224, 64, 10


def make_folder(root: Path, n: int, seed: int = 0, workers: int = 1) -> list[str]:
    """n JPEGs of about 500x375 (either orientation), q90, in CLASSES class folders; written by
    `workers` processes (image i depends only on seed and i, so the folder is the same for any)."""
    chunks = [range(start, n, workers) for start in range(workers)]
    if workers == 1:
        files = _write_photos(root, chunks[0], seed)
    else:
        context = multiprocessing.get_context("fork")  # before this process touches CUDA (gpu_check)
        with context.Pool(workers) as pool:
            files = [f for part in pool.starmap(_write_photos, [(root, c, seed) for c in chunks]) for f in part]
    return sorted(files)


def _write_photos(root: Path, indices: range, seed: int) -> list[str]:
    from infomin_cli.data.div2k import embedded_photos

    photos = [Image.fromarray(p.permute(1, 2, 0).numpy()) for p in embedded_photos()]
    files = []
    for i in indices:
        rng = np.random.default_rng([seed, i])
        photo = photos[i % len(photos)]
        w, h = (500, 375) if rng.random() < 0.75 else (375, 500)
        w, h = int(w * rng.uniform(0.9, 1.1)), int(h * rng.uniform(0.9, 1.1))
        scale = rng.uniform(0.5, 1.0) * min(photo.width / w, photo.height / h)
        cw, ch = int(w * scale), int(h * scale)
        left, top = int(rng.integers(0, photo.width - cw + 1)), int(rng.integers(0, photo.height - ch + 1))
        image = photo.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BILINEAR)
        path = root / f"c{i % CLASSES:02d}" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)
        files.append(str(path))
    return files


def tree_pss(pid: int) -> int:
    """Proportional resident bytes (PSS: a page shared by k processes counts 1/k in each) of `pid`
    and all its descendants, from /proc; forked workers share most pages with the main process."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
        except OSError:
            continue
    return total


class TwoCrops:
    def __init__(self, transform) -> None:
        self.transform = transform

    def __call__(self, image):
        return self.transform(image), self.transform(image)


def torchvision_loader(root: Path, workers: int) -> DataLoader:
    crop = T.Compose([T.RandomResizedCrop(SIZE, scale=(0.2, 1.0)), T.RandomHorizontalFlip(), T.PILToTensor()])
    return DataLoader(ImageFolder(str(root), TwoCrops(crop)), batch_size=BATCH, shuffle=True, num_workers=workers,
                      drop_last=True, prefetch_factor=4)


def ours_batches(files: list[str], workers: int, seed: int):
    source = StreamSource(files, {}, Fit(round(SIZE * 256 / 224)), workers=workers)
    views = VIEWS.get("infomin-aug").make({}, SIZE)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(files), generator=g)
    return epoch_batches_of(source, order, views, g)


def epoch_batches_of(source, order, views, g):
    from infomin_cli.data.source import epoch_batches

    return epoch_batches(source, order[: len(order) // BATCH * BATCH], BATCH, "cpu", g, views)


def timed(batches, limit: int) -> tuple[float, int]:
    """Images per second over `limit` images after the first batch (worker start-up not counted);
    and the largest PSS of the process tree seen meanwhile."""
    iterator = iter(batches)
    next(iterator)
    start, seen, peak = time.perf_counter(), 0, 0
    for i, batch in enumerate(iterator):
        seen += len(batch[1]) if isinstance(batch, (list, tuple)) else len(batch)  # ImageFolder: ((v1, v2), y)
        if i % 10 == 0:
            peak = max(peak, tree_pss(os.getpid()))
        if seen >= limit:
            break
    rate = seen / (time.perf_counter() - start)
    del iterator  # shuts the workers down
    return rate, peak


def reader_arguments(description: str, images: int, argv: list[str] | None) -> argparse.Namespace:
    """The options every folder-reading benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small folders, one round, do not write RESULTS.md")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=images, help="images read per timed pass")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = reader_arguments(__doc__.splitlines()[0], 2560, argv)
    torch.set_num_threads(1)
    small, large = (400, 800) if args.quick else (5000, 10000)
    rounds, limit = (1, 256) if args.quick else (args.rounds, args.images)

    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        t0 = time.perf_counter()
        files = make_folder(Path(tmp) / "large", large)
        made = time.perf_counter() - t0
        mean_kb = sum(os.path.getsize(f) for f in files) / len(files) / 1024
        print(f"wrote {large} JPEGs ({mean_kb:.0f} KB each) in {made:.0f} s", flush=True)
        small_root = Path(tmp) / "small"
        for f in files[:small]:  # the first `small` files, linked into their own folder
            target = small_root / Path(f).parent.name / Path(f).name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(f, target)
        small_files = sorted(str(p) for p in small_root.rglob("*.jpg"))

        ours, theirs = [], []
        for r in range(rounds):
            rate, _ = timed(torchvision_loader(Path(tmp) / "large", args.workers), limit)
            theirs.append(rate)
            print(f"round {r + 1}: torchvision ImageFolder {rate:,.0f} img/s", flush=True)
            rate, _ = timed(ours_batches(files, args.workers, r), limit)
            ours.append(rate)
            print(f"round {r + 1}: ours (StreamSource)   {rate:,.0f} img/s", flush=True)

        memory = {}
        for name, chosen, root in (("small", small_files, small_root), ("large", files, Path(tmp) / "large")):
            _, peak_ours = timed(ours_batches(chosen, args.workers, 0), len(chosen))
            _, peak_theirs = timed(torchvision_loader(root, args.workers), len(chosen))
            memory[name] = (len(chosen), peak_ours, peak_theirs)
            print(f"{name} folder ({len(chosen)} files): peak PSS ours {peak_ours / 2**20:,.0f} MiB, "
                  f"torchvision {peak_theirs / 2**20:,.0f} MiB", flush=True)

    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    (n_small, ours_small, tv_small), (n_large, ours_large, tv_large) = memory["small"], memory["large"]
    growth = ours_large / ours_small - 1
    decoded = n_large * 3 * 256 * 256 / 2**30
    lines = [
        f"{large} JPEGs of about 500x375 (q90, {mean_kb:.0f} KB mean, cut from the scikit-image/scikit-learn photos); "
        f"{args.workers} workers each side, batch {BATCH}, two {SIZE} px views per image, {limit} images per timed "
        f"pass, {rounds} interleaved rounds (median). OMP_NUM_THREADS=1.",
        "",
        "| reader | rounds (img/s) | median (img/s) |",
        "|---|---|---:|",
        f"| torchvision ImageFolder + DataLoader (PIL, RandomResizedCrop + flip x2) | "
        f"{', '.join(f'{r:,.0f}' for r in theirs)} | {med_theirs:,.0f} |",
        f"| ours: StreamSource (decode + both views' crops from the original) | "
        f"{', '.join(f'{r:,.0f}' for r in ours)} | {med_ours:,.0f} |",
        "",
        "| folder | files | peak PSS ours (main + workers) | peak PSS torchvision |",
        "|---|---:|---:|---:|",
        f"| small | {n_small:,} | {ours_small / 2**20:,.0f} MiB | {tv_small / 2**20:,.0f} MiB |",
        f"| large | {n_large:,} | {ours_large / 2**20:,.0f} MiB | {tv_large / 2**20:,.0f} MiB |",
        "",
        f"- Target, throughput >= torchvision's: {med_ours / med_theirs:.2f}x — "
        f"{'met' if med_ours >= med_theirs else 'NOT met'}.",
        f"- Target, resident memory flat as the folder doubles: {growth * 100:+.1f} % from {n_small:,} to {n_large:,} "
        f"files (held in memory at 256 px the large folder would be {decoded:.1f} GiB) — "
        f"{'met' if abs(growth) < 0.10 else 'NOT met'} (flat = within 10 %).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        from benchmarks.report import write_section

        write_section("stream", body, "OMP_NUM_THREADS=1 python -m benchmarks.bench_stream " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
