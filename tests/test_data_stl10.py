"""STL-10 is read from the official binary layout (column-major 3x96x96 uint8, labels 1..10)."""

import numpy as np
import pytest
import torch

from infomin_cli.data import load_dataset
from infomin_cli.errors import InfominError


def write_stl10(folder, n_train=4, n_test=3, n_unlabeled=2):
    folder = folder / "stl10_binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        hwc = rng.integers(0, 256, size=(n, 96, 96, 3), dtype=np.uint8)
        images[split] = hwc
        # the official files store each channel column-major: (N, C, W, H)
        hwc.transpose(0, 3, 2, 1).tofile(folder / f"{split}_X.bin")
    (np.arange(n_train) % 10 + 1).astype(np.uint8).tofile(folder / "train_y.bin")
    (np.arange(n_test) % 10 + 1).astype(np.uint8).tofile(folder / "test_y.bin")
    return images


def test_stl10_images_come_out_upright_with_zero_based_labels(tmp_path):
    images = write_stl10(tmp_path)
    data = load_dataset("stl10", tmp_path)
    assert data.train.images.shape == (4, 3, 96, 96)
    assert torch.equal(data.train.images.permute(0, 2, 3, 1), torch.from_numpy(images["train"]))
    assert data.train.labels["class"].tolist() == [0, 1, 2, 3]
    assert len(data.pretrain) == 4 + 2  # train + unlabeled, as CMC pretrains


def test_stl10_missing_folder_names_what_was_expected(tmp_path):
    with pytest.raises(InfominError, match="stl10_binary"):
        load_dataset("stl10", tmp_path / "nowhere")


def test_stl10_truncated_file_is_reported(tmp_path):
    write_stl10(tmp_path)
    path = tmp_path / "stl10_binary" / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(InfominError, match="not a multiple"):
        load_dataset("stl10", tmp_path)
