"""Colorful Moving MNIST (the paper's B.4): a digit bouncing over a photo, generated on the device.

A sequence is fixed by a handful of numbers (its *factors*): which digit image, which background
image and where it is cropped, the start position and the direction. From them every frame is
rendered exactly, so nothing but the factors is stored, and an epoch of fresh sequences costs only
rendering on the device. The view family (views/moving_mnist.py) builds v2 from *layers* of the
item, so that what v2 shares with frame t is a choice of factors, not of pixels:

    item[:k]      frames 1..k (v1)
    item[k]       frame t's background crop                      (shared background)
    item[k + 1]   a fresh background crop                        (unshared background)
    item[k + 2]   digit layers: D(d, p_t), D(d, p'), D(d', p_t)  (one per channel)
    item[k + 3]   digit layers: D(d', p'), 0, 0

where d is the sequence's digit, p_t its position at frame t, and d', p' a digit and a position
drawn afresh for v2; frame t itself is max(background, D(d, p_t)). Digits are composited with
max, as the reference Moving MNIST generator does.

Trajectory (exact reflection, TFDS's rule): the digit's top-left corner moves in [0, R]^2, R =
canvas - digit, at 0.1 x canvas px per frame. Unfolded, q_f = p_1 + (f - 1) v; reflected, each
coordinate is R * tri(q / R) with tri(u) = min(u mod 2, 2 - u mod 2): a wall bounces the digit
back exactly as far as it would have passed through it, at every frame, including several bounces
between two frames. Frames are drawn at the rounded corner; the position label is the digit's
centre at frame t, unrounded, in canvas pixels (x, y).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infomin_cli.data.base import Dataset, register_dataset, require_root
from infomin_cli.data.cache import cache_dir, cached, shape_check
from infomin_cli.errors import InfominError

K_FRAMES = 10  # v1 = frames 1..k (the paper's k = 10)
T_REF = 20  # v2 is built for frame t = 20
LAYERS = 4  # frames after the k frames of an item: two backgrounds, two digit-layer packs
PAPER_CANVAS, PAPER_DIGIT = 64, 28
SPEED = 0.1  # canvas sizes per frame
EMBEDDED_CANVAS = 32  # the CPU default: the paper's geometry at half the side
DIGIT_CLASSES = [str(d) for d in range(10)]
FACTORS = ("digit", "position", "background")


def digit_side(canvas: int) -> int:
    """The paper's 28 px digit on a 64 px canvas, kept in proportion (14 px on the 32 px default)."""
    return max(4, round(canvas * PAPER_DIGIT / PAPER_CANVAS))


def reflect(q: torch.Tensor, span: float) -> torch.Tensor:
    """Exact reflection of an unfolded coordinate into [0, span] (a triangle wave of period 2 span)."""
    u = torch.remainder(q / span, 2.0)
    return span * torch.minimum(u, 2.0 - u)


def corner_at(start: torch.Tensor, angle: torch.Tensor, frame: torch.Tensor | int, speed: float, span: float) -> torch.Tensor:
    """The digit's top-left corner at `frame` (1-based), float (..., 2) as (x, y)."""
    velocity = torch.stack([torch.cos(angle), torch.sin(angle)], -1) * speed
    steps = (torch.as_tensor(frame, dtype=start.dtype, device=start.device) - 1)
    if steps.ndim:  # (F,) frames for (B,) sequences -> (B, F, 2)
        return reflect(start[:, None] + steps[None, :, None] * velocity[:, None], span)
    return reflect(start + steps * velocity, span)


@dataclass
class Factors:
    """Everything that fixes one sequence and its fresh draw for v2; int64/float32 (N, ...)."""

    digit: torch.Tensor  # index into the split's digit bank
    background: torch.Tensor  # index into the split's background bank
    crop: torch.Tensor  # (N, 2) top-left of the background crop (x, y)
    start: torch.Tensor  # (N, 2) the corner at frame 1, in [0, R]
    angle: torch.Tensor  # direction in [0, 2 pi)
    fresh_digit: torch.Tensor
    fresh_background: torch.Tensor
    fresh_crop: torch.Tensor
    fresh_corner: torch.Tensor  # (N, 2) v2's corner when position is not shared

    def take(self, index: torch.Tensor) -> Factors:
        return Factors(**{k: v[index.to(v.device)] for k, v in asdict_shallow(self).items()})

    def to(self, device: torch.device | str) -> Factors:
        return Factors(**{k: v.to(device) for k, v in asdict_shallow(self).items()})


def asdict_shallow(factors: Factors) -> dict[str, torch.Tensor]:
    return {name: getattr(factors, name) for name in Factors.__dataclass_fields__}


class MovingMnistWorld:
    """A split's digit and background banks plus the renderer: the generator of B.4."""

    def __init__(self, digits: torch.Tensor, digit_labels: torch.Tensor, backgrounds: torch.Tensor,
                 background_labels: torch.Tensor, canvas: int) -> None:
        side = digit_side(canvas)
        if digits.shape[-1] != side:  # MNIST's 28 px or the glyphs' own size -> the canvas's digit size
            digits = F.interpolate(digits[:, None].float(), size=(side, side), mode="bilinear", antialias=True,
                                   align_corners=False)[:, 0].round().clamp(0, 255).to(torch.uint8)
        if backgrounds.shape[-1] < canvas or backgrounds.shape[-2] < canvas:
            raise ValueError(f"backgrounds of {tuple(backgrounds.shape[-2:])} px cannot hold a {canvas} px canvas")
        self.digits, self.digit_labels = digits.contiguous(), digit_labels
        self.backgrounds, self.background_labels = backgrounds.contiguous(), background_labels
        self.canvas, self.side = canvas, side
        self.span = float(canvas - side)
        self.speed = SPEED * canvas

    def to(self, device: torch.device | str) -> MovingMnistWorld:
        if self.digits.device == torch.device(device):
            return self
        world = object.__new__(MovingMnistWorld)
        world.__dict__.update(self.__dict__)
        world.digits, world.backgrounds = self.digits.to(device), self.backgrounds.to(device)
        return world

    def draw(self, n: int, generator: torch.Generator) -> Factors:
        """n sequences' factors from `generator`, on its device: start uniform in the canvas,
        direction uniform in [0, 2 pi), every bank index and crop uniform."""
        device = generator.device
        bh, bw = self.backgrounds.shape[-2:]

        def index(high: int) -> torch.Tensor:
            return torch.randint(high, (n,), device=device, generator=generator)

        def crop() -> torch.Tensor:
            return torch.stack([index(bw - self.canvas + 1), index(bh - self.canvas + 1)], -1)

        def corner() -> torch.Tensor:
            return torch.rand(n, 2, device=device, generator=generator) * self.span

        return Factors(
            digit=index(len(self.digits)), background=index(len(self.backgrounds)), crop=crop(), start=corner(),
            angle=torch.rand(n, device=device, generator=generator) * (2 * math.pi),
            fresh_digit=index(len(self.digits)), fresh_background=index(len(self.backgrounds)), fresh_crop=crop(),
            fresh_corner=corner(),
        )

    def corners(self, factors: Factors, frames: torch.Tensor | int) -> torch.Tensor:
        return corner_at(factors.start, factors.angle, frames, self.speed, self.span)

    def centre_at_t(self, factors: Factors) -> torch.Tensor:
        """The position label: the digit's centre at frame t (x, y) in canvas pixels, float32."""
        return (self.corners(factors, T_REF) + self.side / 2).float()

    def _crop(self, which: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, S, S) crops of the background bank at top-left `at` (x, y)."""
        s = torch.arange(self.canvas, device=at.device)
        rows, cols = at[:, 1:2] + s, at[:, 0:1] + s  # (B, S)
        channels = torch.arange(3, device=at.device)
        return self.backgrounds[which[:, None, None, None], channels[None, :, None, None],
                                rows[:, None, :, None], cols[:, None, None, :]]

    def _place(self, which: torch.Tensor, corner: torch.Tensor) -> torch.Tensor:
        """uint8 (B, S, S): digit `which` on a black canvas with its top-left at the rounded `corner`."""
        at = corner.round().long()
        s = torch.arange(self.canvas, device=corner.device)
        rows, cols = s - at[:, 1:2], s - at[:, 0:1]  # digit coordinates of every canvas pixel
        inside = ((rows >= 0) & (rows < self.side))[:, :, None] & ((cols >= 0) & (cols < self.side))[:, None, :]
        rows, cols = rows.clamp(0, self.side - 1), cols.clamp(0, self.side - 1)
        pixels = self.digits[which[:, None, None], rows[:, :, None], cols[:, None, :]]
        return pixels * inside

    def render(self, factors: Factors) -> torch.Tensor:
        """uint8 (B, k + 4, 3, S, S) items (layout in the module docstring), on the banks' device."""
        b, k = len(factors.digit), K_FRAMES
        frames = torch.arange(1, k + 1, device=self.digits.device)
        corners = self.corners(factors, frames)  # (B, k, 2)
        background = self._crop(factors.background, factors.crop)
        moving = self._place(factors.digit.repeat_interleave(k), corners.reshape(-1, 2)).view(b, k, 1, *background.shape[-2:])
        seq = torch.maximum(background[:, None], moving)
        at_t = self.corners(factors, T_REF)
        layers = [self._place(d, c) for d, c in ((factors.digit, at_t), (factors.digit, factors.fresh_corner),
                                                  (factors.fresh_digit, at_t), (factors.fresh_digit, factors.fresh_corner))]
        pack_a = torch.stack(layers[:3], 1)
        pack_b = torch.stack([layers[3], torch.zeros_like(layers[3]), torch.zeros_like(layers[3])], 1)
        fresh_background = self._crop(factors.fresh_background, factors.fresh_crop)
        return torch.cat([seq, background[:, None], fresh_background[:, None], pack_a[:, None], pack_b[:, None]], 1)


class MovingMnistSource:
    """A `BatchSource` of sequences: a fixed split (probes, held-out I_NCE: item i is always the
    same sequence)."""

    def __init__(self, world: MovingMnistWorld, n: int, seed: int) -> None:
        self.world, self.n = world, n
        self._on: dict[torch.device, MovingMnistWorld] = {}  # the banks moved to a device once, not per batch
        self.factors = world.draw(n, torch.Generator().manual_seed(seed))
        self.labels = {"digit": world.digit_labels[self.factors.digit],
                       "background": world.background_labels[self.factors.background]}
        self.targets = {"position": world.centre_at_t(self.factors)}

    def __len__(self) -> int:
        return self.n

    @property
    def shape(self) -> tuple[int, ...]:
        return (K_FRAMES + LAYERS, 3, self.world.canvas, self.world.canvas)

    def world_on(self, device: torch.device | str) -> MovingMnistWorld:
        device = torch.device(device)
        if device not in self._on:
            self._on[device] = self.world.to(device)
        return self._on[device]

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        device = torch.device("cpu") if device is None else torch.device(device)
        return self.world_on(device).render(self.factors.take(indices.cpu()).to(device))

    def subset(self, n: int | None) -> MovingMnistSource:
        if n is None or n >= self.n:
            return self
        out = object.__new__(type(self))  # a subset of fresh sequences stays fresh
        out.__dict__.update(self.__dict__)
        out.n, out.factors = n, self.factors.take(torch.arange(n))
        out.labels = {k: v[:n] for k, v in self.labels.items()}
        out.targets = {k: v[:n] for k, v in self.targets.items()}
        return out



class FreshSequences(MovingMnistSource):
    """The pretraining split: its `epoch_batches` renders sequences drawn from the run's generator,
    so every training epoch sees new ones and a rerun (or a resume) sees the same ones. `batch`
    still reads its fixed sequences (the k-NN monitor, `datasets show`)."""

    storage = "generated"  # fresh items every epoch, nothing read from disk while training (data.source.ServesEpochs)

    def epoch_batches(self, order: torch.Tensor, batch_size: int, device: torch.device | str | None,
                      generator: torch.Generator | None, crops=None) -> Iterator[torch.Tensor]:
        """len(order) // batch_size batches of sequences drawn now from `generator`, rendered where
        the generator lives: generation never leaves the device."""
        if generator is None:
            raise ValueError("fresh Moving MNIST sequences need the run's generator")
        world = self.world_on(generator.device)
        for _ in range(len(order) // batch_size):
            yield world.render(world.draw(batch_size, generator))


# ---------------------------------------------------------------------------------------------
# banks: where digits and backgrounds come from


@dataclass(frozen=True)
class MovingMnistSpec:
    """Sizes and seeds of the three splits; the cache key of the embedded banks."""

    canvas: int = EMBEDDED_CANVAS
    n_pretrain: int = 8000  # sequences per training epoch (each epoch draws new ones)
    n_train: int = 4000  # fixed sequences the probes are fitted on
    n_test: int = 2000  # fixed sequences probes and held-out I_NCE are scored on
    seed: int = 0
    glyphs_train: int = 2000
    glyphs_test: int = 1000
    crops_per_photo: int = 24  # embedded backgrounds: square crops of each sample photo (train; test gets a third)
    version: int = 1

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def background_side(canvas: int) -> int:
    """STL-10's 96 px for the paper's 64 px canvas: backgrounds are 1.5 canvases wide."""
    return round(canvas * 1.5)


def embedded_glyphs(n: int, rng: np.random.Generator, px: int = PAPER_DIGIT) -> tuple[np.ndarray, np.ndarray]:
    """Digits from the embedded set's fonts: white on black, 28 px, like MNIST (balanced classes)."""
    import matplotlib

    from infomin_cli.data.embedded import FONTS, _glyph_mask

    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    images = np.empty((n, px, px), dtype=np.uint8)
    labels = np.arange(n) % 10
    for i in range(n):
        size = int(round(px * rng.uniform(0.7, 0.95)))  # MNIST digits fill a 20 px box of 28
        dx, dy = rng.uniform(-1.5, 1.5, size=2)
        mask = _glyph_mask(str(font_dir / FONTS[int(rng.integers(len(FONTS)))]), int(labels[i]), size,
                           float(rng.uniform(-15, 15)), float(dx), float(dy), px)
        images[i] = np.clip(mask * 255, 0, 255).round().astype(np.uint8)
    return images, labels.astype(np.int64)


def embedded_backgrounds(crops_per_photo: int, rng: np.random.Generator, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crops of the 8 sample photos (the photo is the class), resized to `side`."""
    from PIL import Image

    from infomin_cli.data.embedded import _photos

    out, labels = [], []
    for label, photo in enumerate(_photos()):
        h, w = photo.shape[:2]
        for _ in range(crops_per_photo):
            crop_side = int(rng.integers(min(h, w) // 4, min(h, w) // 2 + 1))
            top, left = int(rng.integers(0, h - crop_side + 1)), int(rng.integers(0, w - crop_side + 1))
            crop = Image.fromarray(photo[top : top + crop_side, left : left + crop_side]).resize((side, side), Image.BILINEAR)
            out.append(np.asarray(crop, dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
    return np.stack(out), np.asarray(labels, dtype=np.int64)


def embedded_banks(spec: MovingMnistSpec) -> dict[str, np.ndarray]:
    """Generated once (a few seconds), then read from the cache like the embedded set."""
    from infomin_cli.data.embedded import PHOTOS

    side = background_side(PAPER_CANVAS)  # stored at the paper's size; resized per canvas on load
    crops = {"train": spec.crops_per_photo, "test": max(1, spec.crops_per_photo // 3)}
    expected = {}
    for split, glyphs in (("train", spec.glyphs_train), ("test", spec.glyphs_test)):
        photos = crops[split] * len(PHOTOS)
        expected |= {f"digits_{split}": ((glyphs, PAPER_DIGIT, PAPER_DIGIT), "uint8"),
                     f"digit_labels_{split}": ((glyphs,), "int64"),
                     f"backgrounds_{split}": ((photos, 3, side, side), "uint8"),
                     f"background_labels_{split}": ((photos,), "int64")}

    def build() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(spec.seed)
        arrays = {}
        arrays["digits_train"], arrays["digit_labels_train"] = embedded_glyphs(spec.glyphs_train, rng)
        arrays["digits_test"], arrays["digit_labels_test"] = embedded_glyphs(spec.glyphs_test, rng)
        for split in ("train", "test"):
            arrays[f"backgrounds_{split}"], arrays[f"background_labels_{split}"] = embedded_backgrounds(
                crops[split], rng, side)
        return arrays

    return cached(f"moving-mnist-{spec.key()}.npz", build, expected, shape_check(expected))


def resize_backgrounds(images: torch.Tensor, side: int) -> torch.Tensor:
    if images.shape[-1] == side and images.shape[-2] == side:
        return images
    return F.interpolate(images.float(), size=(side, side), mode="bilinear", antialias=True,
                         align_corners=False).round().clamp(0, 255).to(torch.uint8)


MNIST_EXPECTED = ("MNIST's idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                  "t10k-labels-idx1-ubyte, gzipped or not) and optionally STL-10's stl10_binary/ for backgrounds")


def real_banks(root: Path, canvas: int) -> tuple[dict[str, np.ndarray | torch.Tensor], list[str], str]:
    """MNIST digits from idx files; STL-10 images as backgrounds (their class the label) when
    stl10_binary/ is there too, else the sample photos."""
    from infomin_cli.data.idx import load_mnist

    mnist = load_mnist(root)
    arrays: dict[str, np.ndarray | torch.Tensor] = {
        "digits_train": mnist["train"][0], "digit_labels_train": mnist["train"][1],
        "digits_test": mnist["test"][0], "digit_labels_test": mnist["test"][1],
    }
    stl = root / "stl10_binary" if (root / "stl10_binary").is_dir() else root
    if (stl / "train_X.bin").is_file():
        from infomin_cli.data import stl10

        for split in ("train", "test"):
            images = stl10.read_images(stl / f"{split}_X.bin")
            arrays[f"backgrounds_{split}"] = images
            arrays[f"background_labels_{split}"] = stl10.read_labels(stl / f"{split}_y.bin", len(images))
        return arrays, list(stl10.CLASS_NAMES), f"MNIST + STL-10 backgrounds from {root}"
    from infomin_cli.data.embedded import PHOTOS

    photos = embedded_banks(MovingMnistSpec())
    for split in ("train", "test"):
        arrays[f"backgrounds_{split}"] = photos[f"backgrounds_{split}"]
        arrays[f"background_labels_{split}"] = photos[f"background_labels_{split}"]
    return arrays, list(PHOTOS), f"MNIST from {root}; backgrounds from the sample photos (no stl10_binary/ there)"


def world_of(arrays: dict, split: str, canvas: int) -> MovingMnistWorld:
    def tensor(name: str) -> torch.Tensor:
        value = arrays[f"{name}_{split}"]
        return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))

    backgrounds = resize_backgrounds(tensor("backgrounds"), background_side(canvas))
    return MovingMnistWorld(tensor("digits"), tensor("digit_labels").long(), backgrounds,
                            tensor("background_labels").long(), canvas)


@register_dataset("moving-mnist", needs="nothing (embedded glyphs over sample photos), or --data-root with MNIST idx files "
                  "(+ stl10_binary/ for backgrounds); sequences generated on the device", item="sequence",
                  labels=("digit", "background"), targets=("position",), storage="generated", encoder="seq-convnet",
                  default_for="sequences")
def load_moving_mnist(root: Path | None = None, image_size: int | None = None) -> Dataset:
    """Embedded glyphs over sample photos by default; MNIST (+ STL-10) from `root` when given.
    `image_size` is the canvas (the paper's 64; 32 by default, to fit a CPU)."""
    canvas = int(image_size or EMBEDDED_CANVAS)
    if canvas < 16:
        raise InfominError(f"--image-size {canvas} is too small a Moving MNIST canvas; use at least 16 (the paper: 64)")
    spec = MovingMnistSpec(canvas=canvas)
    if root is None:
        from infomin_cli.data.embedded import PHOTOS

        arrays, background_names = embedded_banks(spec), list(PHOTOS)
        origin = f"generated: embedded glyphs over sample photos (spec {spec.key()}), cached in {cache_dir()}"
    else:
        arrays, background_names, origin = real_banks(require_root("moving-mnist", Path(root), MNIST_EXPECTED), canvas)
    train_world, test_world = world_of(arrays, "train", canvas), world_of(arrays, "test", canvas)
    pretrain = FreshSequences(train_world, spec.n_pretrain, spec.seed)
    train = MovingMnistSource(train_world, spec.n_train, spec.seed + 1)
    test = MovingMnistSource(test_world, spec.n_test, spec.seed + 2)
    return Dataset("moving-mnist", pretrain, train, test,
                   {"digit": DIGIT_CLASSES, "background": background_names}, source=origin)
