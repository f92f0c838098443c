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


def test_a_val_annotations_file_that_is_not_utf8_is_named(tmp_path):
    _save(tmp_path / "train" / "n01" / "images" / "a.JPEG", 5)
    _save(tmp_path / "val" / "images" / "val_0.JPEG", 9)
    (tmp_path / "val" / "val_annotations.txt").write_bytes("val_0.JPEG\tn01\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(InfominError, match=r"val_annotations\.txt is not UTF-8 text"):
        load_dataset("tinyimagenet", tmp_path)
    (tmp_path / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99\n")
    with pytest.raises(InfominError, match=r"val_annotations\.txt names no image of a class"):
        load_dataset("tinyimagenet", tmp_path)


def _unreadable_val(root):
    for c in ("n01", "n02"):
        for i in range(2):
            _save(root / "train" / c / f"{i}.png", 40 * i + 10)
        (root / "val" / c).mkdir(parents=True)
        (root / "val" / c / "v.jpg").write_bytes(b"not a jpeg")


@pytest.mark.parametrize("stream", [False, True])
def test_a_val_split_of_unreadable_images_is_refused_when_loaded(tmp_path, stream):
    _unreadable_val(tmp_path)
    with pytest.raises(InfominError, match=r"val.* can be read|no readable image at the start of .*val"):
        load_dataset("imagefolder", tmp_path, 16, stream=stream, workers=0)


@pytest.mark.parametrize("stream", ["--no-stream", "--stream"])
def test_pretrain_on_unreadable_val_images_stops_before_its_first_epoch(tmp_path, capsys, stream):
    """The k-NN monitor reads the val split after each epoch: found at load, no epoch is written."""
    from infomin_cli.cli import main

    _unreadable_val(tmp_path / "data")
    with pytest.raises(SystemExit) as exited:
        main(["pretrain", "--dataset", "imagefolder", "--data-root", str(tmp_path / "data"), stream, "--workers", "0",
              "--batch-size", "2", "--epochs", "1", "--image-size", "16", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1 and "val" in err[0], err
    assert not (tmp_path / "run").exists()
