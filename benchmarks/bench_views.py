"""Views benchmark: batched on-device views vs the per-image torchvision/PIL pipeline in a DataLoader.

Run: `python -m benchmarks.bench_views` (about a minute on 2 CPU cores; `--quick` for a smoke run).
Both sides start from the same uint8 images (96x96, STL-10's size) and produce two 64x64 views per
image; the per-image side runs the equivalent torchvision/PIL transforms in a DataLoader with
num_workers=2. Colour conversion: one batched call vs scikit-image image by image.
Targets (issue 3): CPU full InfoMin Aug >= 1.5x the per-image pipeline; colour conversion >= 20x
scikit-image; GPU full InfoMin Aug >= 10,000 images/s (two views) at 224 px on one H100.

Note: the batched side defaults to ONE torch thread. On a small, shared CPU box, OpenMP threads of
many small ops spin-wait for descheduled siblings and run up to ~40x slower than one thread.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from skimage import color
from torch.utils.data import DataLoader, Dataset

from infomin_cli.views import VIEWS
from infomin_cli.views.colorspaces import convert

SOURCE, SIZE = 96, 64
# colour spaces timed against scikit-image (here and in bench_gpu)
SKIMAGE_REFERENCES = (
    ("lab", color.rgb2lab),
    ("hsv", color.rgb2hsv),
    ("hed", color.rgb2hed),
    ("ycbcr", color.rgb2ycbcr),
)
CHUNK = 16
NORMALIZE = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _crop_flip(scale: float) -> list:
    return [T.RandomResizedCrop(SIZE, scale=(scale, 1.0)), T.RandomHorizontalFlip()]


def _lab_split(img):
    lab = color.rgb2lab(np.asarray(img))
    lab = (lab - np.array([50.0, 6.0, -6.7])) / np.array([50.0, 92.2, 101.2])
    t = torch.from_numpy(lab).permute(2, 0, 1).float()
    return t[:1], t[1:]


def _freq_split(img):
    x = TF.to_tensor(img)
    low = TF.gaussian_blur(x, [7, 7], [1.0, 1.0])
    return 2 * low - 1, 2 * (x - low)


PER_IMAGE = {
    # family (knobs) -> (per-image transform producing ONE view or a (v1, v2) pair, two_views)
    "infomin-aug level=crop": (T.Compose([*_crop_flip(0.2), T.ToTensor(), NORMALIZE]), True),
    "infomin-aug level=infomin": (
        T.Compose(
            [
                *_crop_flip(0.2),
                T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
                T.RandomGrayscale(0.2),
                T.RandomApply([T.GaussianBlur(13, (0.1, 2.0))], p=0.5),
                T.RandAugment(2, 10),
                T.ToTensor(),
                NORMALIZE,
            ]
        ),
        True,
    ),
    "lab-split": (T.Compose([*_crop_flip(0.2), _lab_split]), False),
    "freq-split": (T.Compose([*_crop_flip(0.2), _freq_split]), False),
}
BATCHED = {
    "infomin-aug level=crop": ("infomin-aug", {"level": "crop"}),
    "infomin-aug level=infomin": ("infomin-aug", {}),
    "lab-split": ("lab-split", {}),
    "freq-split": ("freq-split", {}),
}


class PerImage(Dataset):
    def __init__(self, images: torch.Tensor, transform, two_views: bool) -> None:
        self.images, self.transform, self.two_views = images, transform, two_views

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        img = TF.to_pil_image(self.images[i])
        return (self.transform(img), self.transform(img)) if self.two_views else self.transform(img)


def per_image_rate(images: torch.Tensor, transform, two_views: bool, batch: int) -> float:
    loader = DataLoader(
        PerImage(images, transform, two_views), batch_size=batch, num_workers=2, persistent_workers=False
    )
    iterator = iter(loader)
    next(iterator)  # worker start-up is not counted
    start, seen = time.perf_counter(), 0
    for v1, _ in iterator:
        seen += len(v1)
    return seen / (time.perf_counter() - start)


def batched_rate(images: torch.Tensor, family: str, knobs: dict, batch: int, device: torch.device) -> float:
    pair = VIEWS.get(family).make(knobs, SIZE)
    g = torch.Generator(device=device).manual_seed(0)
    images = images.to(device)
    pair(images[:batch], g)
    _sync(device)
    start, seen = time.perf_counter(), 0
    for i in range(batch, len(images) - batch + 1, batch):
        pair(images[i : i + batch], g)
        seen += batch
    _sync(device)
    return seen / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def kornia_rate(images: torch.Tensor, batch: int) -> float:
    """The same InfoMin Aug. through kornia.augmentation (benchmarks/kornia_views.py), batched like ours."""
    from benchmarks.kornia_views import infomin_pipeline, kornia_views

    pipeline = infomin_pipeline(SIZE)
    kornia_views(pipeline, images[:batch])
    start, seen = time.perf_counter(), 0
    for i in range(batch, len(images) - batch + 1, batch):
        kornia_views(pipeline, images[i : i + batch])
        seen += batch
    return seen / (time.perf_counter() - start)


def photo_batch(n: int, seed: int = 0) -> torch.Tensor:
    """n SOURCE-px crops of the photos scikit-image/scikit-learn ship (agreement needs real images)."""
    from infomin_cli.data.div2k import embedded_photos

    photos = embedded_photos()
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(torch.randint(SOURCE, min(photo.shape[1:]) + 1, (1,), generator=g))
        top = int(torch.randint(0, photo.shape[1] - side + 1, (1,), generator=g))
        left = int(torch.randint(0, photo.shape[2] - side + 1, (1,), generator=g))
        out.append(TF.resize(photo[:, top : top + side, left : left + side], [SOURCE, SOURCE], antialias=True))
    return torch.stack(out)


def view_statistics(views: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-view summaries of normalised (B, 3, H, W) views: mean, contrast, colourfulness, sharpness."""
    x = views.float()
    rgb_spread = (x - x.mean(1, keepdim=True)).abs().mean((1, 2, 3))
    edges = (x[..., 1:, :] - x[..., :-1, :]).abs().mean((1, 2, 3))
    return {"mean": x.mean((1, 2, 3)).numpy(), "contrast": x.std((1, 2, 3)).numpy(),
            "colour": rgb_spread.numpy(), "edges": edges.numpy()}


def agreement(n: int) -> list[tuple[str, dict[str, float]]]:
    """KS distance of per-view statistics to torchvision's per-image pipeline (0 = same distribution)."""
    from scipy.stats import ks_2samp

    from benchmarks.kornia_views import infomin_pipeline, kornia_views

    photos = photo_batch(n)
    torch.manual_seed(0)
    transform, _ = PER_IMAGE["infomin-aug level=infomin"]
    reference = view_statistics(torch.stack([transform(TF.to_pil_image(p)) for p in photos]))
    ours, _ = VIEWS.get("infomin-aug").make({}, SIZE)(photos, torch.Generator().manual_seed(1))
    theirs, _ = kornia_views(infomin_pipeline(SIZE), photos)
    rows = []
    for name, views in (("ours (batched views)", ours), ("kornia.augmentation", theirs)):
        stats = view_statistics(views)
        rows.append((name, {k: ks_2samp(stats[k], reference[k]).statistic for k in reference}))
    return rows


def colour_rates(n: int) -> list[tuple[str, float, float]]:
    images = torch.randint(0, 256, (n, 3, SOURCE, SOURCE), dtype=torch.uint8)
    arrays = [im.permute(1, 2, 0).numpy() for im in images]
    rows = []
    for space, fn in SKIMAGE_REFERENCES:
        start = time.perf_counter()
        for a in arrays:
            fn(a)
        ref = n / (time.perf_counter() - start)
        x = images.float() / 255
        convert(x[:CHUNK], space)
        start = time.perf_counter()
        for i in range(0, n, CHUNK):  # cache-sized chunks: page faults on huge temporaries dominate otherwise
            convert(x[i : i + CHUNK], space)
        ours = n / (time.perf_counter() - start)
        rows.append((space, ours, ref))
    return rows


def gpu_rate(device: torch.device) -> float:
    """Full InfoMin Aug at 224 px (two views) from 256 px uint8 images already on the GPU."""
    pair = VIEWS.get("infomin-aug").make({}, 224)
    images = torch.randint(0, 256, (256, 3, 256, 256), dtype=torch.uint8, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    for _ in range(3):
        pair(images, g)
    torch.cuda.synchronize()
    start, reps = time.perf_counter(), 10
    for _ in range(reps):
        pair(images, g)
    torch.cuda.synchronize()
    return 256 * reps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, do not write RESULTS.md")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of the batched side (1: see note)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n, batch = (256, 64) if args.quick else (1024, 64)
    images = torch.randint(
        0, 256, (n, 3, SOURCE, SOURCE), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    cpu = torch.device("cpu")

    lines = [
        f"{SOURCE}x{SOURCE} uint8 -> two {SIZE}x{SIZE} views per image; per-image side: torchvision/PIL "
        f"transforms in a DataLoader (num_workers=2); batched side: {args.threads} torch threads, batch {batch}.",
        "",
        "| family | batched views (img/s) | per-image DataLoader (img/s) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    speedups = {}
    for name, (transform, two_views) in PER_IMAGE.items():
        family, knobs = BATCHED[name]
        ours = batched_rate(images, family, knobs, batch, cpu)
        ref = per_image_rate(images, transform, two_views, batch)
        speedups[name] = ours / ref
        lines.append(f"| {name} | {ours:,.0f} | {ref:,.0f} | {ours / ref:.2f}x |")
        print(lines[-1], flush=True)

    from benchmarks.kornia_views import available

    if available():
        ours_full = batched_rate(images, "infomin-aug", {}, batch, cpu)
        rate = kornia_rate(images, batch)
        lines += [
            "",
            "Library check: the same full InfoMin Aug. through kornia.augmentation (benchmarks/kornia_views.py), "
            f"batched, {args.threads} torch threads, batch {batch}; ours timed again beside it:",
            "",
            "| pipeline | img/s (two views) |",
            "|---|---:|",
            f"| ours (batched views) | {ours_full:,.0f} |",
            f"| kornia.augmentation | {rate:,.0f} |",
            "",
            f"Agreement with torchvision's per-image pipeline on {SOURCE} px crops of the embedded photos: KS "
            "distance of per-view statistics (0 = same distribution; with 512 views, about 0.085 is the 5 % "
            "level of chance):",
            "",
            "| pipeline | mean | contrast | colourfulness | edges |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, ks in agreement(128 if args.quick else 512):
            lines.append(f"| {name} | {ks['mean']:.3f} | {ks['contrast']:.3f} | {ks['colour']:.3f} | {ks['edges']:.3f} |")
        print("\n".join(lines[-12:]), flush=True)
    else:
        lines += ["", "Library check skipped: kornia is not installed (pip install 'infomin[bench]')."]

    lines += [
        "",
        "| colour space | batched convert (img/s) | scikit-image per image (img/s) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    colour = colour_rates(128 if args.quick else 512)
    for space, ours, ref in colour:
        lines.append(f"| {space} | {ours:,.0f} | {ref:,.0f} | {ours / ref:.1f}x |")
        print(lines[-1], flush=True)

    full = speedups["infomin-aug level=infomin"]
    worst_colour = min(ours / ref for _, ours, ref in colour)
    lines += [
        "",
        f"- CPU target, full InfoMin Aug >= 1.5x per-image pipeline: {full:.2f}x — {'met' if full >= 1.5 else 'NOT met'}.",
        f"- CPU target, colour conversion >= 20x scikit-image: worst space {worst_colour:.1f}x — "
        f"{'met' if worst_colour >= 20 else 'NOT met'}.",
    ]
    if torch.cuda.is_available():
        rate = gpu_rate(torch.device("cuda"))
        lines.append(
            f"- GPU target, full InfoMin Aug >= 10,000 img/s at 224 px ({torch.cuda.get_device_name(0)}): "
            f"{rate:,.0f} img/s — {'met' if rate >= 10_000 else 'NOT met'}."
        )
    else:
        lines.append(
            "- GPU target (>= 10,000 img/s at 224 px on one H100): no GPU here; `python -m benchmarks.bench_gpu` "
            "measures it (section gpu)."
        )
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        from benchmarks.report import write_section

        write_section("views", body, "python -m benchmarks.bench_views " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
