"""Batches from a source: the one way the trainer, probes, mi-estimate and `views show` read images.

A source (`BatchSource`, declared with the data contract in `base.py`) knows its length, the shape of one item, its labels, and hands out uint8 batches on a
device for a tensor of indices. Nothing downstream indexes a whole-dataset tensor, so a source
that streams from disk (ImageNet-sized folders) or generates items on the fly (Moving MNIST
sequences, whose items are `(T, C, H, W)`) fits the same seam as today's in-memory tensors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from infomin_cli.data.base import BatchSource, ImageSet

__all__ = ["BatchSource", "InMemorySource", "as_source", "epoch_batches", "iter_batches", "storage_of", "targets_of",
           "training_source"]


@runtime_checkable
class ServesEpochs(Protocol):
    """A source that serves its training epochs itself: streamed from disk (read ahead by worker
    processes, cropped from the original photos when the views ask) or generated on the device."""

    storage: str  # "stream" or "generated" (summary.json says which)

    def epoch_batches(self, order: torch.Tensor, batch_size: int, device: torch.device | str | None,
                      generator: torch.Generator | None, crops: Any = None) -> Iterator[torch.Tensor]: ...


@runtime_checkable
class SkipsFiles(Protocol):
    """A source that skips unreadable files instead of stopping, and says which."""

    skipped: Mapping[str, str]  # path -> why


@runtime_checkable
class HasPrefix(Protocol):
    """A source that can hand out its first n items as a source of their own (`--limit`)."""

    def subset(self, n: int | None) -> BatchSource: ...


@runtime_checkable
class CropsOriginals(Protocol):
    """Views whose crops a streaming source cuts from the original photos (`views.crop.OriginalCrops`)."""

    stream_crops: Any


def storage_of(source: BatchSource | ImageSet) -> str:
    """Where a split's items come from while training: "memory", "stream" or "generated"."""
    return source.storage if isinstance(source, ServesEpochs) else "memory"


@runtime_checkable
class HasTargets(Protocol):
    """A source whose items carry regression targets beside their class labels."""

    targets: Mapping[str, torch.Tensor]  # name -> float (N, d), e.g. a position in px


def targets_of(source: BatchSource | ImageSet) -> dict[str, torch.Tensor]:
    """A split's regression targets; a split without any has none."""
    return dict(source.targets) if isinstance(source, HasTargets) else {}


class InMemorySource:
    """An `ImageSet` held whole, optionally moved to the device once (the small-data fast path).

    A bare uint8 tensor is accepted too (no labels): callers that still hold `dataset.test.images`
    get the same batches as from its `ImageSet`.
    """

    def __init__(self, images: ImageSet | torch.Tensor, device: torch.device | str | None = None) -> None:
        tensor, labels = (images, {}) if isinstance(images, torch.Tensor) else (images.images, images.labels)
        self.images = tensor if device is None else tensor.to(device)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        out = self.images[indices.to(self.images.device)]
        return out if device is None else out.to(device)

    def range(self, start: int, stop: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Items start..stop-1 without building an index tensor (a view, for sequential readers)."""
        out = self.images[start:stop]
        return out if device is None else out.to(device)


def as_source(data: ImageSet | BatchSource | torch.Tensor, device: torch.device | str | None = None) -> BatchSource:
    """Accept an `ImageSet` or a uint8 tensor (wrapped in memory; moved to `device` once if given)
    or a source as it is (a source decides itself where its items live)."""
    if isinstance(data, (ImageSet, torch.Tensor)):
        return InMemorySource(data, device)
    if not isinstance(data, BatchSource):
        raise TypeError(f"expected an ImageSet, a uint8 tensor or a BatchSource, got {type(data).__name__}")
    return data


def iter_batches(source: BatchSource, batch_size: int, device: torch.device | str | None = None,
                 limit: int | None = None):
    """Every item in order, `batch_size` at a time, as uint8 on `device`."""
    n = len(source) if limit is None else min(limit, len(source))
    for start in range(0, n, batch_size):
        yield source.batch(torch.arange(start, min(start + batch_size, n)), device)


def epoch_batches(source: BatchSource, order: torch.Tensor, batch_size: int,
                  device: torch.device | str | None = None, generator: torch.Generator | None = None,
                  views=None) -> Iterator[torch.Tensor]:
    """The uint8 batches of one training epoch, `batch_size` items of `order` at a time (a trailing
    partial batch is dropped). A source that streams from disk serves them itself (read ahead by
    worker processes; cropped from the original photos when `views` has `stream_crops`, with seeds
    drawn from `generator`); any other source is asked for each chunk, drawing nothing."""
    if isinstance(source, ServesEpochs):
        return source.epoch_batches(order, batch_size, device, generator,
                                    views.stream_crops if isinstance(views, CropsOriginals) else None)
    return (source.batch(order[s : s + batch_size], device) for s in range(0, len(order) - batch_size + 1, batch_size))


def training_source(split: ImageSet | BatchSource, limit: int | None, device: torch.device | str) -> BatchSource:
    """The pretraining split as the trainer reads it: in memory, moved to the device once; a
    streaming source stays on disk (its first `limit` items)."""
    if isinstance(split, ImageSet):
        return InMemorySource(split.subset(limit), device)
    return split.subset(limit) if isinstance(split, HasPrefix) else split
