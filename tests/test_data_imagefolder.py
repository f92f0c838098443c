"""Class-per-folder datasets (ImageNet, TinyImageNet layouts) decode into one uint8 tensor."""

import numpy as np
import pytest
from PIL import Image

from infomin_cli.data import load_dataset
from infomin_cli.errors import InfominError


def _save(path, colour, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), colour, dtype=np.uint8)).save(path)


def test_imagenet_layout_gives_square_crops_and_class_balanced_order(tmp_path):
    for c, name in enumerate(["n01", "n02"]):
        for i in range(3):
            _save(tmp_path / "train" / name / f"{i}.JPEG", 40 * c + 10)
        _save(tmp_path / "val" / name / "v.png", 40 * c + 10)
    data = load_dataset("imagenet", tmp_path, 28)
    assert data.train.images.shape == (6, 3, 32, 32)  # 28 * 256/224
    assert data.train.labels["class"].tolist() == [0, 1, 0, 1, 0, 1]
    assert int(data.train.images[1].float().mean()) == 50  # colour survives decoding
    assert data.label_names["class"] == ["n01", "n02"] and len(data.test) == 2


def test_tinyimagenet_val_annotations_are_read(tmp_path):
    _save(tmp_path / "train" / "n01" / "images" / "a.JPEG", 5)
    _save(tmp_path / "train" / "n02" / "images" / "b.JPEG", 9)
    _save(tmp_path / "val" / "images" / "val_0.JPEG", 9)
    (tmp_path / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t0\t10\t10\n")
    data = load_dataset("tinyimagenet", tmp_path)
    assert data.test.labels["class"].tolist() == [1] and data.test.images.shape[-1] == 64


def test_missing_class_folders_and_broken_files_are_one_line(tmp_path):
    with pytest.raises(InfominError, match="no class folders"):
        load_dataset("imagenet", tmp_path)
    _save(tmp_path / "train" / "n01" / "a.jpg", 5)
    (tmp_path / "train" / "n01" / "b.jpg").write_bytes(b"not a jpeg")
    _save(tmp_path / "val" / "n01" / "c.jpg", 5)
    with pytest.raises(InfominError, match="cannot read .*b.jpg .*--strict-data"):
        load_dataset("imagenet", tmp_path, strict=True)
    assert len(load_dataset("imagenet", tmp_path).train) == 1  # by default skipped (and counted on stderr)
