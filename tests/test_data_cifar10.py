"""CIFAR-10 is read from the python pickle batches and resized to 64 px, as the paper evaluates it."""

import pickle

import numpy as np
import pytest

from infomin_cli.data import load_dataset
from infomin_cli.errors import InfominError


def write_cifar(folder, n=5):
    folder = folder / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"labels": list(range(n))}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)


def test_cifar10_loads_all_batches_resized_to_64(tmp_path):
    write_cifar(tmp_path)
    data = load_dataset("cifar10", tmp_path)
    assert data.train.images.shape == (25, 3, 64, 64)
    assert data.test.images.shape == (5, 3, 64, 64)
    assert data.train.labels["class"][:5].tolist() == [0, 1, 2, 3, 4]


def test_cifar10_constant_image_stays_constant_after_resize(tmp_path):
    write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.full((2, 3072), 77, dtype=np.uint8), b"labels": [1, 2]}, handle)
    data = load_dataset("cifar10", tmp_path)
    assert int(data.test.images.min()) == int(data.test.images.max()) == 77


def test_cifar10_malformed_batch_is_one_line(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(InfominError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)
