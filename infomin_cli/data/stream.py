"""Image folders streamed from disk: a `BatchSource` that never holds the dataset in memory.

ImageNet's 1.28 M photos decoded at 256 px are ~250 GB, so a folder that would not fit is read
file by file instead (`--stream`, or automatically; `stream_decision`). The source keeps only the
file list (one numpy byte-string array, shared by forked workers without copy-on-write growth)
and the labels.

Training reads an epoch through `epoch_batches` (data/source.py): a torch DataLoader whose worker
processes read and decode the files, with prefetch, in the order the trainer drew. When the view
family crops (`views.stream_crops`, InfoMin Aug.), each worker cuts the crops from the photo at its
*original* size, as the paper's RandomResizedCrop does, with a generator seeded per item from the
run's generator (so a resumed epoch draws the same boxes). Other families get the stored form of
each item (short side resized to the store size, centre crop), as `batch()` gives it to probes.

On a GPU the workers only read bytes and JPEGs are decoded on the device in one batched call
(`decode_jpeg_on_device`); on a CPU the workers decode. A file that cannot be read is skipped:
the next file of the listing takes its place (so every batch stays full, which MoCo's queue
needs), and it is counted (`skipped`, reported per epoch and in summary.json). With
`strict=True` (`--strict-data`) the first such file stops the run with one line naming it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from infomin_cli.errors import InfominError

# torchvision 0.29 deprecates all of torchvision.io's image decoding in favour of TorchCodec; it is
# used only in read_image and decode_jpeg_on_device, the two functions to change when it goes
DEPRECATED = "The image decoding and encoding capabilities of TorchVision"
JPEG_SUFFIXES = (".jpg", ".jpeg")
SUBSTITUTES = 16  # files tried after an unreadable one before giving up on the slot
PREFETCH = 4  # batches each worker reads ahead


class UnreadableImage(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def read_image(path: str) -> torch.Tensor:
    """uint8 (3, H, W) RGB at the file's own size. Grayscale, CMYK, palette and alpha images are
    converted to RGB; JPEG/PNG/WebP/GIF by torchvision (libjpeg-turbo, libpng), others by PIL."""
    from torchvision.io import ImageReadMode, decode_image

    try:
        data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
        if len(data) == 0:
            raise UnreadableImage(path, "empty file")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=DEPRECATED, category=DeprecationWarning)
                return decode_image(data, mode=ImageReadMode.RGB)
        except RuntimeError as exc:
            if "Unsupported image file" not in str(exc):
                raise UnreadableImage(path, str(exc).splitlines()[-1].split(", ")[-1]) from None
        from PIL import Image

        with Image.open(path) as image:
            return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()
    except UnreadableImage:
        raise
    except Exception as exc:  # truncated, not an image, unreadable: all the same to a 30-hour run
        raise UnreadableImage(path, f"{type(exc).__name__}: {exc}") from None


def decode_jpeg_on_device(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """JPEG bytes -> uint8 (3, H, W) RGB on `device`, the whole list in one nvjpeg call.

    The one place that uses `torchvision.io.decode_jpeg(..., device='cuda')`, deprecated from
    torchvision 0.29 in favour of TorchCodec: replace it here when that moves."""
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=DEPRECATED, category=DeprecationWarning)
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)


@dataclass(frozen=True)
class Fit:
    """How an original photo becomes a fixed-size item: the short side resized to `store` and
    the centre square kept (ImageNet's Resize(256) + CenterCrop); with `native`, a `store` square
    at the photo's own resolution (DIV2K: the patch views read native pixels; upscaled if smaller)."""

    store: int
    native: bool = False

    def __call__(self, image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """With a generator (training, native), the square sits at a random position instead."""
        from torchvision.transforms.v2.functional import center_crop, resize

        _, height, width = image.shape
        if not self.native or min(height, width) < self.store:
            image = resize(image, [self.store], antialias=True)
            _, height, width = image.shape
        if self.native and generator is not None:
            top = int(torch.randint(0, height - self.store + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - self.store + 1, (1,), generator=generator))
            return image[:, top : top + self.store, left : left + self.store].contiguous()
        return center_crop(image, [self.store, self.store])


class _Files(Dataset):
    """What a worker process does for one item: read, decode, crop; substitutes unreadable files."""

    def __init__(self, files: np.ndarray, fit: Fit, crops: Callable | None, raw_jpeg: bool) -> None:
        self.files, self.fit, self.crops, self.raw_jpeg = files, fit, crops, raw_jpeg

    def read(self, index: int) -> tuple[torch.Tensor | None, list[tuple[str, str]]]:
        """The photo at `index` at its own size, or the next readable one; and the unreadable ones met."""
        skipped = []
        for attempt in range(SUBSTITUTES):
            path = self.files[(index + attempt) % len(self.files)].decode()
            try:
                return read_image(path), skipped
            except UnreadableImage as exc:
                skipped.append((exc.path, exc.reason))
        return None, skipped  # the main process says so in one line

    def item(self, index: int, seed: int) -> tuple[torch.Tensor | None, torch.Tensor, list[tuple[str, str]]]:
        """(decoded item or None, raw JPEG bytes or empty, unreadable files met on the way)."""
        path = self.files[index].decode()
        if self.raw_jpeg and path.lower().endswith(JPEG_SUFFIXES):
            return None, torch.from_numpy(np.fromfile(path, dtype=np.uint8)), []
        image, skipped = self.read(index)
        if image is not None:
            image = shape_item(image, self.fit, self.crops, seed)
        return image, torch.empty(0, dtype=torch.uint8), skipped

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        image, raw, skipped = self.item(index, seed)
        return index, seed, image, raw, skipped


def shape_item(image: torch.Tensor, fit: Fit, crops: Callable | None, seed: int) -> torch.Tensor:
    """A decoded photo -> the item the trainer gets: its crops (K, C, S, S) or its stored form."""
    generator = torch.Generator().manual_seed(seed)
    return fit(image, generator) if crops is None else crops(image, generator)


def _collate(items: list) -> tuple[torch.Tensor | None, list]:
    """In the worker: the decoded items stacked into one tensor, so a batch crosses to the main
    process as one shared-memory block (as torch's default collate does), not one per image."""
    images = [item[2] for item in items]
    if all(image is not None for image in images):
        return torch.stack(images), [(index, seed, True, raw, skipped) for index, seed, _, raw, skipped in items]
    return None, items


def default_workers() -> int:
    """Decoding processes: the cores this process may use, at most 16, one left for the trainer."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(16, cores - 1))


class StreamSource:
    """A folder of image files as a `BatchSource`; `epoch_batches` streams an epoch with workers."""

    streamed = True  # read from disk as it trains (summary.json); generated sources serve epochs too

    def __init__(self, files: list[str] | np.ndarray, labels: dict[str, torch.Tensor], fit: Fit,
                 strict: bool = False, workers: int | None = None) -> None:
        self.files = files if isinstance(files, np.ndarray) else np.array([str(f).encode() for f in files])
        self.labels, self.fit, self.strict = labels, fit, strict
        self.workers = default_workers() if workers is None else workers
        self.skipped: dict[str, str] = {}  # unreadable file -> why, accumulated in this process

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, self.fit.store, self.fit.store)

    def subset(self, n: int | None) -> StreamSource:
        """The first n files (listings are class-interleaved, so a prefix is balanced)."""
        if n is None or n >= len(self):
            return self
        out = StreamSource(self.files[:n], {k: v[:n] for k, v in self.labels.items()}, self.fit, self.strict,
                           self.workers)
        out.skipped = self.skipped
        return out

    def _note(self, skipped: list[tuple[str, str]], image: torch.Tensor | bool | None = None,
              raw: torch.Tensor | None = None) -> None:
        for path, reason in skipped:
            if self.strict:
                raise InfominError(f"cannot read {path} ({reason}); fix or remove it, or drop --strict-data to skip "
                                   "unreadable files")
            self.skipped[path] = reason
        if image is None and (raw is None or raw.numel() == 0):
            path, reason = skipped[0]
            raise InfominError(f"{SUBSTITUTES} files in a row from {path} cannot be read ({reason}); check the folder")

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Stored forms of `indices`, read in this process (probes, k-NN monitor, `views show`)."""
        files = _Files(self.files, self.fit, None, raw_jpeg=False)
        out = []
        for i in indices.tolist():
            image, skipped = files.read(int(i))
            self._note(skipped, image)
            out.append(self.fit(image))
        batch = torch.stack(out)
        return batch if device is None else batch.to(device)

    def epoch_batches(self, order: torch.Tensor, batch_size: int, device: torch.device | str | None,
                      generator: torch.Generator | None, crops: Callable | None) -> Iterator[torch.Tensor]:
        """uint8 batches for `order` (len a multiple of batch_size), read ahead by worker processes."""
        device = torch.device(device or "cpu")
        gen_device = generator.device if generator is not None else torch.device("cpu")
        seeds = torch.randint(0, 2**62, (len(order),), generator=generator, device=gen_device).cpu()
        keys = list(zip(order.cpu().tolist(), seeds.tolist(), strict=True))
        chunks = [keys[s : s + batch_size] for s in range(0, len(keys) - batch_size + 1, batch_size)]
        raw_jpeg = device.type == "cuda"
        loader = DataLoader(_Files(self.files, self.fit, crops, raw_jpeg), batch_sampler=chunks,
                            num_workers=self.workers, collate_fn=_collate,
                            prefetch_factor=PREFETCH if self.workers else None, pin_memory=device.type == "cuda",
                            persistent_workers=False)
        for stacked, items in loader:
            for _, _, image, raw, skipped in items:
                self._note(skipped, image, raw)
            if stacked is not None:
                yield stacked.to(device, non_blocking=True)
            else:
                yield self._assemble(items, crops, device)

    def _assemble(self, items: list, crops: Callable | None, device: torch.device) -> torch.Tensor:
        """A batch with JPEG bytes for the device's decoder (or items that need the CPU after all)."""
        raw = [i for i, (_, _, image, _, _) in enumerate(items) if image is None]
        images = [image for _, _, image, _, _ in items]
        if raw:
            decoded = self._decode_on_device([items[i] for i in raw], device)
            for i, image in zip(raw, decoded, strict=True):
                images[i] = shape_item(image, self.fit, crops, items[i][1])
        return torch.stack([image.to(device, non_blocking=True) for image in images])

    def _decode_on_device(self, items: list, device: torch.device) -> list[torch.Tensor]:
        try:
            return decode_jpeg_on_device([raw for _, _, _, raw, _ in items], device)
        except RuntimeError:  # a damaged file in the batch: decode on the CPU, substituting as the workers do
            files = _Files(self.files, self.fit, None, raw_jpeg=False)
            out = []
            for index, _, _, _, _ in items:
                image, skipped = files.read(index)
                self._note(skipped, image)
                out.append(image.to(device))
            return out


def decoded_bytes(n: int, store: int) -> int:
    return n * 3 * store * store


def available_memory() -> int | None:
    """Bytes this machine can still give (MemAvailable), else half of physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError):
        return None


def stream_decision(name: str, n: int, store: int, stream: bool | None) -> bool:
    """Stream when asked, or (stream=None) when decoding all n items at `store` px would take
    more than half the memory still available; refuse --no-stream on such a folder in one line."""
    need, free = decoded_bytes(n, store), available_memory()
    too_big = free is not None and need > free // 2
    if stream is None:
        return too_big
    if not stream and too_big:
        raise InfominError(
            f"{name}: {n} images at {store} px need {need / 2**30:.1f} GiB in memory, over half of the "
            f"{free / 2**30:.1f} GiB available; drop --no-stream (or pass --stream) to read them from disk"
        )
    return stream
