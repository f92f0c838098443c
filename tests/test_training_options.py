"""pretrain and sweep share one declaration of the training options; names and hashes stay stable."""

import inspect

from infomin_cli.cli import app
from infomin_cli.commands._options import TRAINING_OPTIONS
from infomin_cli.config import PRESETS_FILE, RunConfig, load_presets
from infomin_cli.run_files import read_config
from infomin_cli.runs import config_hash


def _options(command: str) -> set[str]:
    """The flags Typer builds for `command`, read from the signature Typer reads."""
    (info,) = [c for c in app.registered_commands if (c.name or c.callback.__name__) == command]
    return {"--" + name.replace("_", "-") for name in inspect.signature(info.callback).parameters}


def test_pretrain_and_sweep_accept_every_shared_training_option():
    shared = {"--" + name.replace("_", "-") for name in TRAINING_OPTIONS if name != "knn_monitor"} | {"--knn-monitor"}
    for command in ("pretrain", "sweep"):
        assert shared <= _options(command), shared - _options(command)
    assert {"--optimizer", "--weight-decay", "--image-size", "--objective", "--queue"} <= _options("sweep")


OLD_CONFIG_YAML = """\
dataset: embedded
data_root: null
views: lab-split
knobs:
  crop-scale: 0.2
  space: lab
encoder: convnet
head: linear
feat_dim: 128
objective: infonce
temperature: 0.07
batch_size: 128
epochs: 2
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
momentum: 0.9
seed: 0
image_size: null
limit: 1024
device: auto
preset: demo
"""


def test_runs_made_before_the_objectives_keep_their_config_hash(tmp_path):
    # config.yaml and config_hash of `infomin pretrain --preset demo --epochs 2 --limit 1024` under v0.1
    (tmp_path / "config.yaml").write_text(OLD_CONFIG_YAML)
    assert config_hash(read_config(tmp_path / "config.yaml")) == "1223a5ffaba8d16f"


def test_objective_options_change_the_hash_only_where_the_objective_uses_them():
    base = RunConfig()
    assert config_hash(base.merged({"methods": {"moco": {"queue": 4096}}})) == config_hash(base)  # infonce: no queue
    moco = base.merged({"objective": "moco"})
    assert config_hash(moco.merged({"queue": 4096})) != config_hash(moco)
    assert config_hash(moco.merged({"symmetric": False})) == config_hash(moco)  # runs made before the option keep theirs
    assert config_hash(moco.merged({"symmetric": True})) != config_hash(moco)
    assert config_hash(base.merged({"methods": {"moco": {"symmetric": True}}})) == config_hash(base)


def test_an_option_given_at_its_default_hashes_as_if_it_were_not_given():
    moco = RunConfig().merged({"objective": "moco"})
    assert config_hash(moco.merged({"queue": 65536, "key_momentum": 0.999})) == config_hash(moco)


def test_a_run_keeps_its_hash_when_a_method_gains_an_option(monkeypatch):
    from infomin_cli.objectives import OBJECTIVES
    from infomin_cli.options import Option

    runs = [RunConfig(), RunConfig().merged({"objective": "moco", "queue": 4096})]
    before = [config_hash(config) for config in runs]
    for name in ("memory-bank", "moco", "infonce"):
        method = OBJECTIVES.get(name)
        monkeypatch.setattr(method, "options", (*method.options, Option("new_setting", 1.0, "added later")))
    assert [config_hash(config) for config in runs] == before


def test_a_flag_of_another_method_is_refused_naming_the_objective_and_its_options():
    import pytest

    from infomin_cli.errors import InfominError
    from infomin_cli.runs import validate

    with pytest.raises(InfominError, match="--queue is not an option of --objective infonce .its options: --jigsaw-beta"):
        validate(RunConfig().merged({"queue": 4096}))


def test_a_validated_config_holds_the_chosen_method_options_with_defaults_filled_in():
    from infomin_cli.runs import validate

    config = validate(RunConfig().merged({"methods": {"moco": {"queue": 4096}}, "objective": "memory-bank"}))
    assert config.methods == {"memory-bank": {"bank_negatives": 16384, "bank_loss": "softmax"}}


def test_sgd_momentum_reads_old_configs_that_called_it_momentum():
    old = RunConfig().to_dict()
    old["momentum"] = old.pop("sgd_momentum")
    old["momentum"] = 0.8
    assert RunConfig.from_dict(old).sgd_momentum == 0.8


def test_the_presets_ship_inside_the_package():
    import infomin_cli

    assert PRESETS_FILE.parent == __import__("pathlib").Path(infomin_cli.__file__).parent
    assert "crop-scale-linear" in load_presets()


def test_log_tensorboard_without_the_package_is_one_line(tmp_path, monkeypatch):
    import builtins

    import pytest

    from infomin_cli.errors import InfominError
    from infomin_cli.runs import validate

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(InfominError, match=r"pip install 'infomin\[tensorboard\]'"):
        validate(RunConfig(log="tensorboard"))
    with pytest.raises(InfominError, match="--log 'csv' is not valid"):
        validate(RunConfig(log="csv"))


def test_the_objectives_command_lists_every_objective_with_its_options():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["objectives"])
    assert result.exit_code == 0
    for text in ("infonce", "moco", "memory-bank", "--queue", "65536", "--bank-negatives", "16384", "--key-momentum"):
        assert text in result.output, text


def test_a_built_wheel_ships_the_presets(tmp_path):
    """After a non-editable `pip install .`, `--preset crop-scale-linear` must work from any directory: the
    wheel holds the repository's top-level experiments.yaml, byte for byte."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("infomin-*.whl")
    shipped = zipfile.ZipFile(wheel).read("infomin_cli/experiments.yaml")  # the file, not a link to it
    assert shipped == (root / "experiments.yaml").read_bytes()


def test_the_package_reads_the_presets_of_the_repositorys_top_level_file():
    from pathlib import Path

    from infomin_cli.config import PRESETS_FILE

    top = Path(__file__).resolve().parent.parent / "experiments.yaml"
    assert PRESETS_FILE.resolve() == top.resolve() and PRESETS_FILE.read_bytes() == top.read_bytes()


def test_log_tensorboard_writes_event_files_beside_metrics(tmp_path, tiny_config):
    import pytest

    pytest.importorskip("tensorboard")
    from infomin_cli.engine.pretrain import pretrain

    pretrain(tiny_config.merged({"log": "tensorboard", "epochs": 1}), tmp_path / "run", progress=False)
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_settings_that_cannot_mean_what_they_say_are_warned_about_not_refused(tmp_path, tiny_config, capsys):
    from rich.console import Console

    from infomin_cli.engine.pretrain import pretrain

    config = tiny_config.merged({"objective": "moco", "queue": 128, "batch_size": 8, "epochs": 1, "knn_monitor": False})
    pretrain(config, tmp_path / "run", progress=False, console=Console(stderr=True, width=300))
    err = capsys.readouterr().err
    assert "warning: --queue 128 is at least the 96 training images" in err
    assert "warning: the training K is" not in err  # K = 129
    small = tiny_config.merged({"batch_size": 8, "epochs": 1, "knn_monitor": False})
    pretrain(small, tmp_path / "small", progress=False, console=Console(stderr=True, width=300))
    assert "warning: the training K is 8 (log K = 2.08 nats)" in capsys.readouterr().err


def test_a_sensible_run_starts_without_warnings(tmp_path, tiny_config, capsys):
    from rich.console import Console

    from infomin_cli.engine.pretrain import pretrain

    pretrain(tiny_config.merged({"epochs": 1, "knn_monitor": False}), tmp_path / "run", progress=False,
             console=Console(stderr=True, width=300))
    assert "warning" not in capsys.readouterr().err
