"""Config resolution: defaults <- preset <- flags; the hash ignores where and on what it ran."""

from infomin_cli.config import RunConfig, resolve_config
from infomin_cli.run_files import read_config
from infomin_cli.runs import config_hash


def test_flags_override_the_preset_which_overrides_defaults():
    config = resolve_config("demo", {"epochs": 3})
    assert config.views == "lab-split" and config.epochs == 3 and config.preset == "demo"


def test_paper_scale_applies_the_seed_settings():
    config = resolve_config("demo", {}, scale="paper")
    assert config.dataset == "stl10" and config.encoder == "alexnet-half"


def test_hash_ignores_device_and_data_root_but_not_training_fields():
    base = RunConfig()
    assert config_hash(base) == config_hash(base.merged({"device": "cuda", "data_root": "/x"}))
    assert config_hash(base) != config_hash(base.merged({"temperature": 0.2}))


def test_saved_config_round_trips(tmp_path):
    config = RunConfig(knobs={"crop-scale": 0.2}, seed=3)
    config.save(tmp_path / "c.yaml")
    assert read_config(tmp_path / "c.yaml") == config
