"""MNIST's idx files are read as LeCun wrote them, gzipped or not, and a bad file is one line naming it."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from infomin_cli.data.idx import load_mnist, read_idx
from infomin_cli.errors import InfominError

N = 5


def idx_images(images: np.ndarray, magic: int = 0x00000803) -> bytes:
    return struct.pack(">IIII", magic, *images.shape) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 0x00000801) -> bytes:
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def sample(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) * 3 % 10).astype(np.uint8)


def write_mnist(folder: Path, gz: bool = False, **override: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The four files in `folder`; `override` replaces a file's bytes (by its name without .gz)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, prefix, seed in (("train", "train", 0), ("test", "t10k", 1)):
        images, labels = sample(N, seed)
        written[split] = (images, labels)
        for name, data in ((f"{prefix}-images-idx3-ubyte", idx_images(images)),
                           (f"{prefix}-labels-idx1-ubyte", idx_labels(labels))):
            data = override.get(name, data)
            (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return written


def refused(call, *args) -> str:
    with pytest.raises(InfominError) as err:
        call(*args)
    message = str(err.value)
    assert "\n" not in message
    return message


def assert_same(loaded, written) -> None:
    for split in ("train", "test"):
        images, labels = loaded[split]
        assert images.dtype == np.uint8 and images.shape == (N, 28, 28)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images, written[split][0])
        np.testing.assert_array_equal(labels, written[split][1])


def test_plain_idx_files_load_as_uint8_images_and_int64_labels(tmp_path):
    written = write_mnist(tmp_path)
    assert_same(load_mnist(tmp_path), written)


def test_gzipped_files_load_the_same(tmp_path):
    written = write_mnist(tmp_path, gz=True)
    assert_same(load_mnist(tmp_path), written)


def test_torchvision_layout_is_found(tmp_path):
    written = write_mnist(tmp_path / "MNIST" / "raw", gz=True)
    assert_same(load_mnist(tmp_path), written)


def test_a_mnist_subfolder_is_found(tmp_path):
    written = write_mnist(tmp_path / "mnist")
    assert_same(load_mnist(tmp_path), written)


def test_gzip_is_detected_by_its_bytes_not_its_name(tmp_path):
    images, _ = sample()
    path = tmp_path / "train-images-idx3-ubyte"  # no .gz, yet compressed
    path.write_bytes(gzip.compress(idx_images(images)))
    np.testing.assert_array_equal(read_idx(path), images)


def test_loaded_images_are_writable_for_torch(tmp_path):
    write_mnist(tmp_path)
    assert load_mnist(tmp_path)["train"][0].flags.writeable


def test_missing_files_say_which_files_are_expected_where(tmp_path):
    message = refused(load_mnist, tmp_path)
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path / "MNIST" / "raw") in message


def test_a_partial_folder_names_the_files_it_lacks(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    message = refused(load_mnist, tmp_path)
    assert "lacks t10k-labels-idx1-ubyte" in message


def test_a_wrong_magic_number_names_the_file_and_the_expected_magics(tmp_path):
    images, _ = sample()
    write_mnist(tmp_path, **{"train-images-idx3-ubyte": idx_images(images, magic=0x12345678)})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte") in message
    assert "0x12345678" in message and "0x00000803" in message and "0x00000801" in message


def test_a_data_type_other_than_uint8_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x00000D03, 1, 28, 28) + bytes(4 * 28 * 28))
    message = refused(read_idx, path)
    assert str(path) in message and "float32" in message and "uint8" in message


def test_truncated_data_is_named_with_the_sizes(tmp_path):
    images, _ = sample()
    write_mnist(tmp_path, **{"t10k-images-idx3-ubyte": idx_images(images)[:-100]})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "t10k-images-idx3-ubyte") in message and "truncated" in message
    assert str(N * 28 * 28) in message


def test_a_truncated_header_is_named(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">I", 0x00000801) + b"\0\0")
    message = refused(read_idx, path)
    assert str(path) in message and "truncated" in message


def test_an_empty_file_is_named(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"")
    assert str(path) in refused(read_idx, path)


def test_extra_bytes_after_the_data_are_named(tmp_path):
    _, labels = sample()
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_labels(labels) + b"junk")
    message = refused(read_idx, path)
    assert str(path) in message and "4 bytes after" in message


def test_a_dot_gz_file_that_is_not_gzip_is_named(tmp_path):
    _, labels = sample()
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(idx_labels(labels))
    message = refused(read_idx, path)
    assert str(path) in message and "not gzip" in message


def test_a_corrupt_gzip_stream_is_named(tmp_path):
    images, _ = sample()
    data = bytearray(gzip.compress(idx_images(images)))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bytes(data))
    message = refused(read_idx, path)
    assert str(path) in message and "gzip" in message


def test_a_cut_gzip_stream_is_named(tmp_path):
    images, _ = sample()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_images(images))[:-20])
    message = refused(read_idx, path)
    assert str(path) in message and "gzip" in message


def test_a_header_promising_more_than_exists_allocates_nothing_big(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x00000803, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(10))
    assert "truncated" in refused(read_idx, path)


def test_image_and_label_counts_must_match(tmp_path):
    _, labels = sample()
    write_mnist(tmp_path, **{"train-labels-idx1-ubyte": idx_labels(labels[:3])})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "train-labels-idx1-ubyte") in message and "3 labels for the 5 images" in message


def test_labels_out_of_range_are_named(tmp_path):
    write_mnist(tmp_path, **{"t10k-labels-idx1-ubyte": idx_labels(np.array([0, 1, 2, 3, 12]))})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "t10k-labels-idx1-ubyte") in message and "0..12" in message


def test_images_that_are_not_28_by_28_are_named(tmp_path):
    rng = np.random.default_rng(0)
    write_mnist(tmp_path, **{"train-images-idx3-ubyte": idx_images(rng.integers(0, 256, (N, 32, 32)))})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte") in message and "32x32" in message


def test_swapped_files_are_named(tmp_path):
    images, labels = sample()
    write_mnist(tmp_path, **{"train-images-idx3-ubyte": idx_labels(labels),
                             "train-labels-idx1-ubyte": idx_images(images)})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte") in message and "swapped" in message


@pytest.mark.parametrize("prefix", ["train", "t10k"])
def test_a_split_of_zero_images_is_refused_before_training(tmp_path, prefix):
    empty = np.zeros((0, 28, 28), np.uint8)
    write_mnist(tmp_path, **{f"{prefix}-images-idx3-ubyte": idx_images(empty),
                             f"{prefix}-labels-idx1-ubyte": idx_labels(np.zeros(0, np.uint8))})
    message = refused(load_mnist, tmp_path)
    assert str(tmp_path / f"{prefix}-images-idx3-ubyte") in message and "holds 0 images" in message
