"""Configs round-trip: a run's config.yaml repeats the run, a user's preset file works like the packaged
one, --print-config shows what would run, and `infomin presets` lists them all."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.config import get_preset, load_presets
from infomin_cli.run_files import read_config
from infomin_cli.runs import config_hash, validate

runner = CliRunner()


def printed(*args: str) -> dict:
    result = runner.invoke(app, ["pretrain", *args, "--print-config"])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout)


def test_print_config_shows_the_validated_config_and_writes_nothing(tmp_path):
    shown = printed("--preset", "demo", "--out", str(tmp_path / "run"))
    assert shown["preset"] == "demo" and shown["epochs"] == 10 and shown["methods"] == {"infonce": {"jigsaw_beta": 0.5}}
    assert not (tmp_path / "run").exists()


def test_a_runs_config_yaml_is_enough_to_repeat_it(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(printed("--preset", "crop-scale-linear-moco", "--seed", "3")))
    again = printed("--config", str(tmp_path / "config.yaml"))
    saved = validate(read_config(tmp_path / "config.yaml"))
    assert again == saved.to_dict() and again["seed"] == 3 and again["objective"] == "moco"


def test_flags_override_the_config_file(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(printed("--preset", "demo")))
    shown = printed("--config", str(tmp_path / "config.yaml"), "--epochs", "3", "--objective", "moco", "--queue", "256")
    assert shown["epochs"] == 3 and shown["methods"] == {"moco": {"queue": 256, "key_momentum": 0.999,
                                                                  "jigsaw_beta": 0.5, "symmetric": False}}


def test_a_user_preset_file_can_start_from_a_packaged_preset(tmp_path):
    mine = {"presets": {"demo-longer": {"base": "demo", "section": "mine", "config": {"epochs": 25}}}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(mine))
    shown = printed("--config", str(tmp_path / "mine.yaml"))  # the file's one preset, chosen without --preset
    assert shown["preset"] == "demo-longer" and shown["epochs"] == 25 and shown["views"] == "lab-split"
    demo = printed("--preset", "demo")
    assert config_hash(validate(read_config_from(shown))) != config_hash(validate(read_config_from(demo)))


def read_config_from(data: dict):
    from infomin_cli.config import RunConfig

    return RunConfig.from_dict(data)


def test_a_preset_file_with_several_presets_needs_preset(tmp_path):
    two = {"presets": {"a": {"config": {"epochs": 2}}, "b": {"config": {"epochs": 3}}}}
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(two))
    result = runner.invoke(app, ["pretrain", "--config", str(tmp_path / "two.yaml"), "--print-config"])
    assert result.exit_code == 2 and "choose one with --preset" in result.output
    assert printed("--config", str(tmp_path / "two.yaml"), "--preset", "b")["epochs"] == 3


def test_the_presets_listing_names_every_preset_with_its_section():
    result = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in load_presets():
        assert name in result.output
        assert str(get_preset(name)["section"]).split()[0] in result.output


def test_more_epochs_than_the_paper_at_embedded_scale_is_a_warning():
    result = runner.invoke(app, ["pretrain", "--preset", "demo", "--epochs", "500", "--print-config"])
    assert result.exit_code == 0 and "warning: --epochs 500 is more than the paper's own 240 for preset demo" in result.output
    assert "warning" not in runner.invoke(app, ["pretrain", "--preset", "demo", "--print-config"]).output
