"""`infomin export`: the backbone loads into torchvision with only fc missing, and into Detectron2's names."""

import pickle

import numpy as np
import pytest
import torch
import torchvision

from infomin_cli.atomic import atomic_torch_save
from infomin_cli.cli import main
from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.export import export_run
from infomin_cli.models import build_model
from infomin_cli.runs import build_views, validate

torch.set_num_threads(1)


def _run_folder(path, **fields):
    """A run folder as `infomin pretrain` leaves it, with weights and BN statistics that are not the init."""
    config = validate(RunConfig(**{"views": "infomin-aug", "encoder": "resnet18", "image_size": 32, **fields}))
    views = build_views(config, 32)
    torch.manual_seed(0)
    model = build_model(config, views.channels, views.shared_encoder)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn_like(tensor).abs() if "running_var" in name else 0.01 * torch.randn_like(tensor))
    path.mkdir(parents=True)
    config.save(path / "config.yaml")
    atomic_torch_save(path / "checkpoint.pt", {"model": model.state_dict()})
    return model.eval()


def test_torchvision_export_loads_with_only_fc_missing_and_computes_the_same_features(tmp_path):
    model = _run_folder(tmp_path / "run")
    [path] = export_run(tmp_path / "run", "torchvision", tmp_path / "r18.pth")
    net = torchvision.models.resnet18(weights=None)
    result = net.load_state_dict(torch.load(path, weights_only=True), strict=False)
    assert set(result.missing_keys) == {"fc.weight", "fc.bias"} and not result.unexpected_keys
    net.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net.eval()(x), model.encoders[0](x), atol=1e-5)


def test_detectron2_pickle_has_its_author_heuristics_flag_and_resnet_names_as_numpy(tmp_path):
    _run_folder(tmp_path / "run")
    [path] = export_run(tmp_path / "run", "detectron2", tmp_path / "r18.pkl")
    with open(path, "rb") as handle:
        payload = pickle.load(handle)
    assert set(payload) == {"model", "__author__", "matching_heuristics"} and payload["matching_heuristics"] is True
    names = set(payload["model"])
    assert all(isinstance(v, np.ndarray) for v in payload["model"].values())
    assert {"stem.conv1.weight", "stem.conv1.norm.weight", "stem.conv1.norm.running_var"} <= names
    assert {"res2.0.conv1.weight", "res2.0.conv1.norm.bias", "res5.1.conv2.norm.running_mean"} <= names
    assert {"res3.0.shortcut.weight", "res3.0.shortcut.norm.weight"} <= names
    assert not any(n.startswith(("layer", "fc", "conv1", "bn1")) or "downsample" in n or "num_batches" in n
                   for n in names)
    assert {n.split(".")[0] for n in names} == {"stem", "res2", "res3", "res4", "res5"}


def test_split_encoders_export_as_two_files_each_with_its_own_first_conv(tmp_path):
    _run_folder(tmp_path / "run", views="lab-split")
    paths = export_run(tmp_path / "run", "torchvision", tmp_path / "r18.pth")
    assert [p.name for p in paths] == ["r18-view1.pth", "r18-view2.pth"]
    in_channels = [torch.load(p, weights_only=True)["conv1.weight"].shape[1] for p in paths]
    assert in_channels == [1, 2]  # L, then ab
    with pytest.raises(InfominError, match="3-channel RGB"):
        export_run(tmp_path / "run", "detectron2", tmp_path / "r18.pkl")
    assert not (tmp_path / "r18.pkl").exists()


def test_a_non_resnet_encoder_or_a_damaged_checkpoint_is_one_line(tmp_path):
    _run_folder(tmp_path / "conv", encoder="convnet")
    with pytest.raises(InfominError, match="needs a ResNet run .* 'convnet'"):
        export_run(tmp_path / "conv", "detectron2", tmp_path / "x.pkl")
    _run_folder(tmp_path / "torn")
    (tmp_path / "torn" / "checkpoint.pt").write_bytes((tmp_path / "torn" / "checkpoint.pt").read_bytes()[:100])
    with pytest.raises(InfominError, match="checkpoint.pt is damaged"):
        export_run(tmp_path / "torn", "torchvision", tmp_path / "x.pth")
    assert not (tmp_path / "x.pth").exists() and not (tmp_path / "x.pkl").exists()


def test_the_export_command_writes_the_file_it_names(tmp_path, capsys):
    _run_folder(tmp_path / "run")
    with pytest.raises(SystemExit) as exited:
        main(["export", str(tmp_path / "run"), "--format", "torchvision", "--out", str(tmp_path / "r18.pth")])
    assert exited.value.code in (0, None) and (tmp_path / "r18.pth").is_file()
    assert "r18.pth (torchvision)" in capsys.readouterr().out


@pytest.mark.parametrize(("out", "says"), [
    ("{run}/checkpoint.pt", "is the checkpoint.pt of the run"),
    ("{run}/config.yaml", "is the config.yaml of the run"),
    ("{other}/metrics.csv", "is the metrics.csv of the run"),
    ("{results}", "is a results CSV"),
    ("{plain}/r18.pth", "is a file, not a folder"),
    ("{tmp}/" + "x" * 300 + ".pth", "longer than the"),
])
def test_export_never_replaces_a_file_of_ours_and_checks_its_path_first(tmp_path, capsys, out, says):
    from infomin_cli.results import append_row

    _run_folder(tmp_path / "run")
    _run_folder(tmp_path / "other")
    (tmp_path / "other" / "metrics.csv").write_text("epoch,loss\n1,2.0\n")
    append_row(tmp_path / "results.csv", {"run_id": "r", "metric_name": "top1", "metric_value": 50.0})
    (tmp_path / "plain").write_text("a plain file\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    target = out.format(run=tmp_path / "run", other=tmp_path / "other", results=tmp_path / "results.csv",
                        plain=tmp_path / "plain", tmp=tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["export", str(tmp_path / "run"), "--format", "torchvision", "--out", target])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1 and says in err[0], err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
