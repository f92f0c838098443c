"""NYU-Depth-v2 from its official files: the HDF5 .mat read frame by frame (h5py reverses its axes),
the v5 split and class-mapping files, and one-line errors for missing or malformed files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from infomin_cli.data import nyu
from infomin_cli.data.base import MASK_IGNORE
from infomin_cli.errors import InfominError

h5py = pytest.importorskip("h5py")


def frames(n: int = 3, h: int = 8, w: int = 8):
    """(n, H, W, 3) images whose pixels encode (frame, row, col), and (n, H, W) raw labels: the top
    half raw class 1, the bottom half raw class 2, the first column unlabelled (0)."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    images = np.stack([np.stack([rows * 10 + i, cols * 10, np.full_like(rows, 7)], -1) for i in range(n)]).astype(np.uint8)
    labels = np.where(rows < h // 2, 1, 2)[None].repeat(n, 0).astype(np.uint16)
    labels[:, :, 0] = 0
    return images, labels


def write_official(root, images, labels, map40=(3, 1, 0, 2, 40), train=(1, 3), test=(2,)):
    """The files as the official release lays them out. MATLAB stores images as H x W x 3 x N; h5py
    reads that column-major file as (N, 3, W, H), which is what we write here."""
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / nyu.MAT, "w") as f:
        f.create_dataset("images", data=images.transpose(0, 3, 2, 1))  # (N, H, W, 3) -> (N, 3, W, H)
        f.create_dataset("labels", data=labels.transpose(0, 2, 1))  # (N, H, W) -> (N, W, H)
        f.create_dataset("depths", data=np.zeros(labels.transpose(0, 2, 1).shape, np.float32))
    scipy.io.savemat(root / nyu.SPLITS, {"trainNdxs": np.array(train)[:, None], "testNdxs": np.array(test)[:, None]})
    scipy.io.savemat(root / nyu.MAP40, {"mapClass": np.array([map40], dtype=np.float64)})
    labels13 = (np.arange(40) % 13 + 1).astype(np.float64)[None]
    scipy.io.savemat(root / nyu.MAP13, {"classMapping13": {"labels13": labels13, "labelName": np.array(["x"] * 13)}})
    return root


def test_frames_come_back_upright_with_unlabelled_pixels_ignored(tmp_path):
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels)
    table = nyu.class_table(root, 40)
    got_images, got_masks = nyu.read_frames(root / nyu.MAT, np.array([2, 0]), table, size=8)
    np.testing.assert_array_equal(got_images.numpy(), images[[2, 0]].transpose(0, 3, 1, 2))
    # raw 1 -> class 3 -> mask 2; raw 2 -> class 1 -> mask 0; raw 0 (unlabelled) -> ignored
    expected = np.where(np.arange(8)[:, None] < 4, 2, 0).repeat(8, 1).astype(np.uint8)
    expected[:, 0] = MASK_IGNORE
    np.testing.assert_array_equal(got_masks[0].numpy(), expected)


def test_split_is_one_based_and_the_loader_resizes_labels_by_nearest_neighbour(tmp_path):
    images, labels = frames(n=3, h=6, w=8)
    root = write_official(tmp_path / "nyu", images, labels)
    train_idx, test_idx = nyu.read_splits(root)
    assert train_idx.tolist() == [0, 2] and test_idx.tolist() == [1]
    data = nyu.load_nyu(root, size=4, classes=40)
    assert data.train.images.shape == (2, 3, 4, 4) and data.test.masks.shape == (1, 4, 4)
    assert set(np.unique(data.train.masks.numpy())) <= {0, 2, MASK_IGNORE}  # nearest: no blended classes
    assert data.train.images[1, 0].float().mean() > data.train.images[0, 0].float().mean()  # frame 3 vs frame 1
    assert len(data.mask_names) == 40 and data.mask_names[0] == "wall"
    again = nyu.load_nyu(root, size=4, classes=40)  # from the cache
    assert (again.train.masks == data.train.masks).all()


def test_13_classes_go_through_the_40_class_mapping(tmp_path):
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels, map40=(40, 15))
    table = nyu.class_table(root, 13)
    # labels13[k - 1] = (k - 1) % 13 + 1: raw 1 -> class 40 -> 1 -> mask 0; raw 2 -> class 15 -> 2 -> mask 1
    assert table.tolist() == [MASK_IGNORE, 0, 1]
    assert len(nyu.load_nyu(root, 4, 13).mask_names) == 13


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda root: (root / nyu.MAP40).unlink(), "classMapping40.mat is missing; expected the 894 -> 40"),
        (lambda root: (root / nyu.SPLITS).unlink(), "splits.mat is missing"),
        (lambda root: (root / nyu.MAT).unlink(), "nyu_depth_v2_labeled.mat is missing"),
        (lambda root: scipy.io.savemat(root / nyu.MAP40, {"classes": np.ones((1, 3))}), "has no key 'mapClass'"),
        (lambda root: scipy.io.savemat(root / nyu.SPLITS, {"trainNdxs": np.ones((2, 1))}), "has no key 'testNdxs'"),
        (lambda root: (root / nyu.MAT).write_bytes(b"MATLAB 5.0"), "not a MATLAB v7.3 (HDF5) file"),
    ],
)
def test_missing_or_malformed_files_are_named(tmp_path, broken, message):
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels)
    broken(root)
    with pytest.raises(InfominError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nyu.load_nyu(root, 4, 40)


def test_a_mat_file_without_labels_names_the_key(tmp_path):
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels)
    with h5py.File(root / nyu.MAT, "a") as f:
        del f["labels"]
    with pytest.raises(InfominError, match="has no key 'labels'"):
        nyu.load_nyu(root, 4, 40)


def test_a_damaged_cache_is_read_again_from_the_files_and_said_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path / "cache"))
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels)
    first = nyu.load_nyu(root, 4, 40)
    [cached] = (tmp_path / "cache").glob("nyu-*.pt")
    cached.write_bytes(cached.read_bytes()[:64])
    capsys.readouterr()
    again = nyu.load_nyu(root, 4, 40)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and cached.name in err[0] and "rebuilding it" in err[0]
    assert (again.train.masks == first.train.masks).all() and (again.test.images == first.test.images).all()


def _labels13(root, table):
    scipy.io.savemat(root / nyu.MAP13, {"classMapping13": {"labels13": np.array(table, dtype=np.float64)[None]}})


@pytest.mark.parametrize(("broken", "message"), [
    (lambda root: _labels13(root, np.arange(40) % 13 + 2), "classMapping13"),  # 14: no such class
    (lambda root: _labels13(root, np.arange(40) % 13), "classMapping13"),  # 0: no class at all
    (lambda root: _labels13(root, np.arange(40) % 13 + 1.5), "classMapping13"),
    (lambda root: scipy.io.savemat(root / nyu.MAP40, {"mapClass": np.array([[3, 1.5, 0, 2, 40]])}), "mapClass"),
    (lambda root: scipy.io.savemat(root / nyu.MAP40, {"mapClass": np.array([[3, np.nan, 0, 2, 40]])}), "mapClass"),
])
def test_class_maps_out_of_range_are_named(tmp_path, broken, message):
    images, labels = frames()
    root = write_official(tmp_path / "nyu", images, labels)
    broken(root)
    with pytest.raises(InfominError, match=message):
        nyu.load_nyu(root, 4, 13)


def test_frames_of_no_pixels_are_refused_before_any_probe(tmp_path):
    root = write_official(tmp_path / "nyu", np.zeros((3, 0, 0, 3), np.uint8), np.zeros((3, 0, 0), np.uint16))
    with pytest.raises(InfominError, match="0 x 0 px"):
        nyu.load_nyu(root, 4, 40)
