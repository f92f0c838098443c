"""The paper's linear protocol on streamed folders: SGD lr 30 with CMC's steps, train-time crops, resumable."""

import shutil

import pytest
import torch

from infomin_cli.atomic import atomic_torch_save
from infomin_cli.config import RunConfig
from infomin_cli.evaluate import linear_protocol
from infomin_cli.evaluate.linear_protocol import linear_protocol_run, milestones
from infomin_cli.models import build_model
from infomin_cli.runs import build_views, load_run, validate
from tests.test_data_stream import _folder

torch.set_num_threads(1)


def _streamed_run(tmp_path):
    _folder(tmp_path / "data", corrupt=False)
    config = validate(RunConfig(dataset="imagenet", data_root=str(tmp_path / "data"), views="infomin-aug",
                                encoder="convnet", image_size=16, stream=True, workers=0))
    views = build_views(config, 16)
    model = build_model(config, views.channels, views.shared_encoder)
    (tmp_path / "run").mkdir()
    config.save(tmp_path / "run" / "config.yaml")
    atomic_torch_save(tmp_path / "run" / "checkpoint.pt", {"model": model.state_dict()})
    return tmp_path / "run"


def test_cmcs_steps_sit_at_30_40_50_of_60_epochs_and_scale_with_fewer():
    assert milestones(60) == [30, 40, 50] and milestones(6) == [3, 4, 5]


def test_a_killed_streamed_probe_resumes_to_the_same_classifier(tmp_path, monkeypatch):
    folder = _streamed_run(tmp_path)
    shutil.copytree(folder, tmp_path / "again")
    straight = linear_protocol_run(load_run(folder, "cpu"), epochs=2, batch_size=4, lr=1.0, results=tmp_path / "a.csv",
                                   probe_task="linear-protocol")
    assert hasattr(load_run(folder, "cpu").dataset.train, "epoch_batches")  # really streamed

    real = linear_protocol.save_checkpoint
    calls = []

    def dies_after_first_epoch(*args, **kwargs):
        real(*args, **kwargs)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(linear_protocol, "save_checkpoint", dies_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        linear_protocol_run(load_run(tmp_path / "again", "cpu"), epochs=2, batch_size=4, lr=1.0, results=tmp_path / "b.csv",
                            probe_task="linear-protocol")
    monkeypatch.setattr(linear_protocol, "save_checkpoint", real)
    resumed = linear_protocol_run(load_run(tmp_path / "again", "cpu"), epochs=2, batch_size=4, lr=1.0,
                                  results=tmp_path / "b.csv", probe_task="linear-protocol")
    assert calls == [1]
    a = torch.load(folder / "linear-imagenet-class-pool.pt", weights_only=True)
    b = torch.load(tmp_path / "again" / "linear-imagenet-class-pool.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    assert all(torch.equal(a["classifier"][k], b["classifier"][k]) for k in a["classifier"])
    assert straight["metric_value"] == resumed["metric_value"] and straight["probe_layer"] == "pool"
