"""Dense probes (paper B.2): mIoU from a confusion matrix, a decoder on frozen feature maps that
resumes from its per-epoch checkpoint, rows in the results CSV, and one-line errors."""

from __future__ import annotations

import math

import pytest
import torch

from infomin_cli.data.base import DATASETS, MASK_IGNORE, Dataset, ImageSet, register_dataset
from infomin_cli.evaluate.miou import confusion_matrix, iou_per_class, mean_iou, pixel_accuracy
from infomin_cli.evaluate.segmentation import Decoder, segmentation_probe_run, train_decoder
from infomin_cli.results import read_results
from tests.conftest import make_tiny


def test_miou_matches_a_hand_computed_confusion_matrix():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, MASK_IGNORE, 1]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 3, 1]])
    cm = confusion_matrix(pred, target, classes=4, ignore=MASK_IGNORE)
    # rows = truth, columns = prediction; the ignored pixel is not counted
    assert cm.tolist() == [[1, 1, 0, 0], [0, 3, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    # IoU: class 0: 1 / (2 + 2 - 1) = 1/3; class 1: 3 / (3 + 4 - 3) = 3/4; class 2: 1 / (2 + 1 - 1) = 1/2;
    # class 3 never appears in the truth: left out of the mean
    iou = iou_per_class(cm)
    assert iou[:3].tolist() == pytest.approx([1 / 3, 3 / 4, 1 / 2]) and math.isnan(iou[3])
    assert mean_iou(cm) == pytest.approx(100 * (1 / 3 + 3 / 4 + 1 / 2) / 3)
    assert pixel_accuracy(cm) == pytest.approx(100 * 5 / 7)


def test_the_decoder_has_four_conv_layers_and_returns_the_mask_size():
    decoder = Decoder(48, 5)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in decoder.modules()) == 4
    assert decoder(torch.randn(2, 48, 4, 4), (32, 32)).shape == (2, 5, 32, 32)
    assert decoder(torch.randn(2, 48, 12, 12), (96, 96)).shape == (2, 5, 96, 96)


def _features(n: int, seed: int):
    """Feature maps whose first channel says, per 2x2 cell, which class the 8x8 mask holds there."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.randint(0, 3, (n, 2, 2), generator=g)
    x = torch.randn(n, 6, 2, 2, generator=g) * 0.1
    x[:, :3] += torch.nn.functional.one_hot(cells, 3).permute(0, 3, 1, 2).float()
    y = cells.repeat_interleave(4, 1).repeat_interleave(4, 2).to(torch.uint8)
    y[:, 0, 0] = MASK_IGNORE
    return x, y


def test_a_killed_decoder_continues_from_its_checkpoint_to_the_same_result(tmp_path):
    (train_x, train_y), (test_x, test_y) = _features(64, 0), _features(32, 1)
    whole = train_decoder(train_x, train_y, test_x, test_y, 3, epochs=4, batch_size=16)
    assert mean_iou(whole) > 50  # it learns (chance: ~33 %)

    class Killed(Exception):
        pass

    def kill_after_two(epoch, total):
        if epoch == 2:
            raise Killed

    ckpt = tmp_path / "seg.pt"
    with pytest.raises(Killed):
        train_decoder(train_x, train_y, test_x, test_y, 3, epochs=4, batch_size=16, checkpoint=ckpt,
                      progress=kill_after_two)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    resumed = train_decoder(train_x, train_y, test_x, test_y, 3, epochs=4, batch_size=16, checkpoint=ckpt)
    assert torch.equal(resumed, whole)
    assert torch.load(ckpt, weights_only=False)["done"]


def _masked(images: ImageSet) -> ImageSet:
    """tiny's square (the bright channel's quadrant) as a mask: colour + 1 inside, 0 outside."""
    bright = images.images.max(1).values >= 250
    masks = torch.where(bright, images.labels["colour"][:, None, None] + 1, 0).to(torch.uint8)
    return ImageSet(images.images, images.labels, masks)


def _load_tinyseg(root=None, image_size=None) -> Dataset:
    train, test = _masked(make_tiny(96, seed=0)), _masked(make_tiny(64, seed=1))
    return Dataset("tinyseg", train, train, test, {"class": ["tl", "tr", "bl", "br"], "colour": ["r", "g", "b"]},
                   mask_names=["background", "r", "g", "b"])


if "tinyseg" not in DATASETS:
    register_dataset("tinyseg", labels=("class", "colour"), masks=True)(_load_tinyseg)


def test_probe_rows_resume_and_skip(tmp_path, tiny_config):
    from infomin_cli.engine.pretrain import pretrain

    pretrain(tiny_config.merged({"dataset": "tinyseg", "epochs": 1}), tmp_path / "run", progress=False)
    csv = tmp_path / "results.csv"
    rows = segmentation_probe_run(tmp_path / "run", results=csv, epochs=2, layer="conv3", probe_task="segmentation")
    assert [r["metric_name"] for r in rows] == ["miou", "pixel_acc"]
    assert rows[0]["probe_label"] == "mask" and rows[0]["probe_layer"] == "conv3" and rows[0]["unit"] == "%"
    assert 0 <= rows[0]["metric_value"] <= 100 and 0 <= rows[1]["metric_value"] <= 100
    assert list((tmp_path / "run").glob("seg-probe-mask-conv3-*.pt"))  # the decoder's checkpoint
    again = segmentation_probe_run(tmp_path / "run", results=csv, epochs=2, layer="conv3", probe_task="segmentation")
    assert all(r["skipped"] for r in again)  # its rows exist: not redone
    segmentation_probe_run(tmp_path / "run", results=csv, epochs=2, layer="conv3", random_init=True,
                           probe_task="segmentation")
    frame = read_results(csv)
    assert frame["metric_name"].tolist() == ["miou", "pixel_acc"] * 2
    assert frame["run_id"].tolist()[-1] == "run+random-init"


def test_missing_mapping_file_is_one_line_exit_2(tmp_path, capsys, tiny_config):
    from infomin_cli.cli import main
    from infomin_cli.engine.pretrain import pretrain

    pretrain(tiny_config.merged({"epochs": 1}), tmp_path / "run", progress=False)
    nyu_root = tmp_path / "nyu"
    nyu_root.mkdir()
    (nyu_root / "nyu_depth_v2_labeled.mat").write_bytes(b"")
    with pytest.raises(SystemExit) as exited:
        main(["probe", str(tmp_path / "run"), "--task", "segmentation", "--dataset", "nyu-depth-v2",
              "--data-root", str(nyu_root), "--classes", "40", "--results", str(tmp_path / "r.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1, err
    assert "classMapping40.mat is missing" in err[0] and "mapClass" in err[0] and "Traceback" not in err[0]


def test_probe_cli_on_nyu_files_in_the_official_layout(tmp_path, capsys, tiny_config):
    """`infomin probe RUN --task segmentation --dataset nyu-depth-v2 --data-root DIR --classes 40`."""
    pytest.importorskip("h5py")
    from infomin_cli.cli import main
    from infomin_cli.engine.pretrain import pretrain
    from tests.test_data_nyu import frames, write_official

    pretrain(tiny_config.merged({"epochs": 1}), tmp_path / "run", progress=False)
    images, labels = frames(n=3, h=12, w=16)
    root = write_official(tmp_path / "nyu", images, labels)
    csv = tmp_path / "r.csv"
    with pytest.raises(SystemExit) as exited:
        main(["probe", str(tmp_path / "run"), "--task", "segmentation", "--dataset", "nyu-depth-v2", "--data-root",
              str(root), "--classes", "40", "--seg-size", "16", "--epochs", "1", "--results", str(csv)])
    assert exited.value.code == 0
    assert "mIoU" in capsys.readouterr().out
    frame = read_results(csv)
    assert frame["metric_name"].tolist() == ["miou", "pixel_acc"]
    assert set(frame["dataset"]) == {"tiny->nyu-depth-v2"} and set(frame["probe_label"]) == {"nyu40"}


@pytest.mark.parametrize(("encoder", "size", "refused"), [("convnet", 4, True), ("convnet", 8, False),
                                                           ("resnet18", 16, True), ("resnet18", 32, False)])
def test_a_seg_size_below_the_encoders_total_stride_is_refused(encoder, size, refused):
    from infomin_cli.config import RunConfig
    from infomin_cli.errors import InfominError
    from infomin_cli.evaluate.segmentation import check_seg_size

    config = RunConfig(encoder=encoder)
    if refused:
        with pytest.raises(InfominError, match=f"--seg-size {size} is smaller than encoder {encoder}'s"):
            check_seg_size(config, size)
    else:
        check_seg_size(config, size)
