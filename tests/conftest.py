"""Shared fixtures: one thread (2 shared cores), a private cache, and a tiny in-memory dataset."""

from __future__ import annotations

import os

import pytest
import torch

from infomin_cli.data.base import DATASETS, Dataset, ImageSet, register_dataset

torch.set_num_threads(1)
os.environ["OMP_NUM_THREADS"] = "1"  # the user's choice for every command a test runs, in process or not (runtime/threads.py)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def make_tiny(n: int = 96, side: int = 16, seed: int = 0) -> ImageSet:
    """Coloured squares on noise: `class` is the quadrant of the square, `colour` its colour."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 80, (n, 3, side, side), generator=g, dtype=torch.uint8)
    quadrant = torch.arange(n) % 4
    colour = torch.randint(0, 3, (n,), generator=g)
    half = side // 2
    for i in range(n):
        top, left = (quadrant[i] // 2) * half, (quadrant[i] % 2) * half
        images[i, colour[i], top : top + half, left : left + half] = 250
    return ImageSet(images, {"class": quadrant, "colour": colour})


def _load_tiny(root=None, image_size=None) -> Dataset:
    train, test = make_tiny(96, seed=0), make_tiny(64, seed=1)
    return Dataset("tiny", train, train, test, {"class": ["tl", "tr", "bl", "br"], "colour": ["r", "g", "b"]})


if "tiny" not in DATASETS:
    register_dataset("tiny", labels=("class", "colour"))(_load_tiny)


@pytest.fixture
def tiny_config():
    from infomin_cli.config import RunConfig

    return RunConfig(dataset="tiny", views="lab-split", encoder="convnet", batch_size=32, epochs=2, seed=0)


@pytest.fixture
def crash_after_first_epoch(monkeypatch):
    """A context: inside it the trainer writes its first checkpoint and then dies (KeyboardInterrupt),
    as a run killed between epochs would."""
    import contextlib

    from infomin_cli.engine import pretrain as module

    real = module.save_checkpoint

    @contextlib.contextmanager
    def armed():
        calls = []

        def save(*args, **kwargs):
            real(*args, **kwargs)
            calls.append(1)
            if len(calls) == 1:
                raise KeyboardInterrupt

        monkeypatch.setattr(module, "save_checkpoint", save)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(module, "save_checkpoint", real)

    return armed
