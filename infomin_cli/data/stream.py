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

On a GPU (or with `decode_on_device=True`, how the CPU suite runs the same code) the workers only
read each JPEG's bytes and header, and draw its crop boxes from its seed; the main process decodes
the whole batch in one call (`decode_jpegs`: nvjpeg on CUDA, libjpeg-turbo on a CPU, the only
difference between the two) and cuts every crop of the batch at once (`OriginalCrops.batched`),
one batch ahead of the training step in a background thread on a side stream (prefetch.py). The
boxes are the ones the workers would cut, so both paths, and a resumed epoch, see the same crops.

A file that cannot be read is skipped: the next file of the listing takes its place (so every
batch stays full, which MoCo's queue needs), and it is counted (`skipped`, reported per epoch and
in summary.json). With `strict=True` (`--strict-data`) the first such file stops the run with one
line naming it. A JPEG whose header reads but which the batched decoder refuses is found by
decoding the batch's JPEGs one by one and read as a worker reads it (kept if the CPU decoder reads
it, else replaced), so both paths keep and skip the same files.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from infomin_cli.data.prefetch import prefetched
from infomin_cli.errors import InfominError
from infomin_cli.runtime.threads import cores, leave_for

# torchvision 0.29 deprecates all of torchvision.io's image decoding in favour of TorchCodec; it is
# used only in read_image and decode_jpegs, the two functions to change when it goes
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


def read_jpeg(path: str) -> tuple[torch.Tensor, tuple[int, int]] | None:
    """A JPEG file's bytes and its (height, width) from the header, for a batched decode elsewhere;
    None when the file is not a JPEG after all (the caller decodes it itself)."""
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            if image.format != "JPEG":
                return None
            width, height = image.size
        data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
    except Exception as exc:  # not an image, header cut short, unreadable: all the same to a 30-hour run
        raise UnreadableImage(path, f"{type(exc).__name__}: {exc}") from None
    return data, (height, width)


def decode_jpegs(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """JPEG bytes -> uint8 (3, H, W) RGB on `device`, the whole list in one call: nvjpeg on CUDA,
    libjpeg-turbo on a CPU (the stand-in that lets the CPU suite run the device-decode path).

    On CUDA the calling stream is drained first, on the host. torchvision's decoder allocates its
    outputs on the caller's current stream but writes them from a private stream that is never
    ordered after it (pytorch/vision#9606), and nvJPEG's hardware batched decoder writes when the
    call is made whatever stream it is given (meta-pytorch/torchcodec#1634: a device-side
    `wait_event` does not gate it, a host wait does). Without the barrier the caching allocator can
    hand the decoder a block that kernels still queued on the caller's stream are about to read,
    and they read JPEG pixels: the NaNs of issue 21. Called from the prefetch thread, whose current
    stream is its own side stream, the barrier waits only for the previous batch's crops, not for
    the training step.

    The one place that uses `torchvision.io.decode_jpeg`, deprecated from torchvision 0.29 in
    favour of TorchCodec: replace it here when that moves (keeping the barrier)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()
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


class Crops(Protocol):
    """What a view family's `stream_crops` is (views/crop.py's `OriginalCrops`): crops drawn per
    photo from a seeded generator, cut one photo at a time or a whole batch at once."""

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...

    def draw(self, height: int, width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...

    def batched(self, images: list[torch.Tensor], boxes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor: ...


class Fetched(NamedTuple):
    """One place of a batch as a worker hands it to the device decoder."""

    index: int  # the place's file in the listing
    seed: int
    attempt: int  # the file read is index + attempt: every unreadable one is replaced by the next
    data: torch.Tensor  # its JPEG bytes; empty when the worker decoded it (not a JPEG) or none was readable
    image: torch.Tensor | None  # a file that is not a JPEG, decoded in the worker at its own size
    boxes: torch.Tensor | None  # (K, 4) crop boxes drawn from the seed on the photo's size
    flips: torch.Tensor | None  # (K,)
    skipped: list[tuple[str, str]]  # unreadable files met on the way: (path, reason)


class Read(NamedTuple):
    """A batch of `Fetched` places packed by the worker: the JPEG bytes cross to the main process as
    one shared-memory block, not one file descriptor per image."""

    places: list[Fetched]  # with empty `data`: the bytes are in `data` below
    data: torch.Tensor
    lengths: list[int]


class _Files(Dataset):
    """What a worker process does for one place of a batch; an unreadable file is replaced by the
    next of the listing. Decoding here (`on_device` False): read, decode and crop. For the device
    decoder: read the bytes and the size in the header, and draw the crop boxes from the place's
    seed on that size, so the main process decodes the batch in one call and cuts all its crops at
    once, the boxes exactly those this process would have cut."""

    def __init__(self, files: np.ndarray, fit: Fit, crops: Crops | None, on_device: bool) -> None:
        self.files, self.fit, self.crops, self.on_device = files, fit, crops, on_device

    def path(self, index: int, attempt: int = 0) -> str:
        return self.files[(index + attempt) % len(self.files)].decode()

    def read(self, index: int, start: int = 0) -> tuple[torch.Tensor | None, int, list[tuple[str, str]]]:
        """The photo at `index` + `start` at its own size, or the next readable one; the attempt it
        took; and the unreadable files met."""
        skipped = []
        for attempt in range(start, SUBSTITUTES):
            try:
                return read_image(self.path(index, attempt)), attempt, skipped
            except UnreadableImage as exc:
                skipped.append((exc.path, exc.reason))
        return None, SUBSTITUTES, skipped  # the main process says so in one line

    def draw(self, height: int, width: int, seed: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if self.crops is None:
            return None, None
        return self.crops.draw(height, width, torch.Generator().manual_seed(seed))

    def fetch(self, index: int, seed: int) -> Fetched:
        skipped = []
        for attempt in range(SUBSTITUTES):
            path = self.path(index, attempt)
            try:
                jpeg = read_jpeg(path) if path.lower().endswith(JPEG_SUFFIXES) else None
                image = read_image(path) if jpeg is None else None
            except UnreadableImage as exc:
                skipped.append((exc.path, exc.reason))
                continue
            data, (height, width) = jpeg if jpeg is not None else (NO_BYTES, tuple(image.shape[1:]))
            return Fetched(index, seed, attempt, data, image, *self.draw(height, width, seed), skipped)
        return Fetched(index, seed, SUBSTITUTES, NO_BYTES, None, None, None, skipped)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]):
        index, seed = key
        if self.on_device:
            return self.fetch(index, seed)
        image, _, skipped = self.read(index)
        if image is not None:
            image = shape_item(image, self.fit, self.crops, seed)
        return index, seed, image, skipped


NO_BYTES = torch.empty(0, dtype=torch.uint8)


def shape_item(image: torch.Tensor, fit: Fit, crops: Crops | None, seed: int) -> torch.Tensor:
    """A decoded photo -> the item the trainer gets: its crops (K, C, S, S) or its stored form."""
    generator = torch.Generator().manual_seed(seed)
    return fit(image, generator) if crops is None else crops(image, generator)


def _collate(items: list) -> tuple[torch.Tensor | None, list]:
    """In the worker: the decoded items stacked into one tensor, so a batch crosses to the main
    process as one shared-memory block (as torch's default collate does), not one per image."""
    images = [item[2] for item in items]
    if all(image is not None for image in images):
        return torch.stack(images), [(index, seed, True, skipped) for index, seed, _, skipped in items]
    return None, items


def _pack(places: list[Fetched]) -> Read:
    """In the worker (device-decode path): the batch's JPEG bytes end to end, as one tensor."""
    lengths = [len(place.data) for place in places]
    data = torch.cat([place.data for place in places]) if any(lengths) else NO_BYTES
    return Read([place._replace(data=NO_BYTES) for place in places], data, lengths)


def default_workers() -> int:
    """Decoding processes: the cores this process may use, at most 16, one left for the trainer."""
    return max(1, min(16, cores() - 1))


class StreamSource:
    """A folder of image files as a `BatchSource`; `epoch_batches` streams an epoch with workers.

    `decode_on_device`: where JPEGs are decoded during training. None (the default) decodes them on
    the training device when it is a GPU and in the worker processes otherwise; True takes the
    device-decode path on any device (on a CPU, libjpeg-turbo in the main process stands in for
    nvjpeg: how the CPU suite runs the code that CUDA runs); False always decodes in the workers.
    """

    storage = "stream"  # read from disk as it trains (data.source.ServesEpochs; summary.json's "streamed")

    def __init__(self, files: list[str] | np.ndarray, labels: dict[str, torch.Tensor], fit: Fit,
                 strict: bool = False, workers: int | None = None, decode_on_device: bool | None = None) -> None:
        self.files = files if isinstance(files, np.ndarray) else np.array([str(f).encode() for f in files])
        self.labels, self.fit, self.strict = labels, fit, strict
        self.workers = default_workers() if workers is None else workers
        self.decode_on_device = decode_on_device
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
                           self.workers, self.decode_on_device)
        out.skipped = self.skipped
        return out

    def _note(self, skipped: list[tuple[str, str]], found: bool = True) -> None:
        """Count the unreadable files met (or, strict, stop at the first); stop when none was found."""
        for path, reason in skipped:
            if self.strict:
                raise InfominError(f"cannot read {path} ({reason}); fix or remove it, or drop --strict-data to skip "
                                   "unreadable files")
            self.skipped[path] = reason
        if not found:
            path, reason = skipped[0]
            raise InfominError(f"{SUBSTITUTES} files in a row from {path} cannot be read ({reason}); check the folder")

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Stored forms of `indices`, read in this process (probes, k-NN monitor, `views show`)."""
        files = _Files(self.files, self.fit, None, on_device=False)
        out = []
        for i in indices.tolist():
            image, _, skipped = files.read(int(i))
            self._note(skipped, image is not None)
            out.append(self.fit(image))
        batch = torch.stack(out)
        return batch if device is None else batch.to(device)

    def epoch_batches(self, order: torch.Tensor, batch_size: int, device: torch.device | str | None,
                      generator: torch.Generator | None, crops: Crops | None) -> Iterator[torch.Tensor]:
        """uint8 batches for `order` (len a multiple of batch_size), read ahead by worker processes;
        on the device-decode path, decoded and cropped one batch ahead of the consumer (prefetch.py)."""
        device = torch.device(device or "cpu")
        gen_device = generator.device if generator is not None else torch.device("cpu")
        seeds = torch.randint(0, 2**62, (len(order),), generator=generator, device=gen_device).cpu()
        keys = list(zip(order.cpu().tolist(), seeds.tolist(), strict=True))
        chunks = [keys[s : s + batch_size] for s in range(0, len(keys) - batch_size + 1, batch_size)]
        on_device = device.type == "cuda" if self.decode_on_device is None else self.decode_on_device
        leave_for(self.workers)  # the decoders are processes: this one keeps the cores they leave
        loader = DataLoader(_Files(self.files, self.fit, crops, on_device), batch_sampler=chunks,
                            num_workers=self.workers, collate_fn=_pack if on_device else _collate,
                            prefetch_factor=PREFETCH if self.workers else None, pin_memory=device.type == "cuda",
                            persistent_workers=False)
        if on_device:
            yield from prefetched(loader, lambda read: self._assemble(read, crops, device), device)
            return
        for stacked, items in loader:
            for _, _, image, skipped in items:
                self._note(skipped, image is not None)
            yield stacked.to(device, non_blocking=True)

    def _assemble(self, read: Read, crops: Crops | None, device: torch.device) -> torch.Tensor:
        """A worker's batch -> uint8 on `device`: every JPEG decoded in one call, then all crops of the
        batch cut at once (or, for families without stream crops, each photo's stored form)."""
        places = list(read.places)
        for place, length in zip(places, read.lengths, strict=True):
            self._note(place.skipped, place.image is not None or length > 0)
        data = torch.split(read.data, read.lengths)
        jpegs = [i for i, length in enumerate(read.lengths) if length]
        images: list[torch.Tensor | None] = [None if p.image is None else p.image.to(device, non_blocking=True)
                                             for p in places]
        try:
            decoded = decode_jpegs([data[i] for i in jpegs], device) if jpegs else []
        except RuntimeError:  # a damaged file in the batch: find it, and replace it as the workers do
            decoded = [self._decode_or_replace(places, i, data[i], crops, device) for i in jpegs]
        for i, image in zip(jpegs, decoded, strict=True):
            images[i] = image
        if crops is None:
            return torch.stack([shape_item(image, self.fit, None, p.seed) for image, p in zip(images, places, strict=True)])
        return crops.batched(images, torch.stack([p.boxes for p in places]), torch.stack([p.flips for p in places]))

    def _decode_or_replace(self, places: list[Fetched], i: int, data: torch.Tensor, crops: Crops | None,
                           device: torch.device) -> torch.Tensor:
        """Place i's JPEG decoded alone. If the batched decoder refuses it, the worker path's reader
        decides, as it would have: the same file read on the CPU (nvjpeg refuses some JPEGs that
        libjpeg-turbo reads, CMYK ones), else the next readable file of the listing, with the
        place's boxes drawn again on its size (places[i] is updated)."""
        try:
            return decode_jpegs([data], device)[0]
        except RuntimeError:
            place = places[i]
            files = _Files(self.files, self.fit, crops, on_device=False)
            image, attempt, skipped = files.read(place.index, place.attempt)
            self._note(skipped, image is not None)
            if attempt != place.attempt:
                boxes, flips = files.draw(image.shape[1], image.shape[2], place.seed)
                places[i] = place._replace(attempt=attempt, boxes=boxes, flips=flips)
            return image.to(device)


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
