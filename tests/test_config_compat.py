"""Runs made before per-method options keep their names: their config.yaml files load, validate and
hash as they did, and the committed results CSVs are still the points their presets plan."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from infomin_cli.config import get_preset, resolve_config
from infomin_cli.run_files import read_config
from infomin_cli.runs import config_hash, validate
from infomin_cli.sweep.plan import plan_points
from infomin_cli.sweep.spec import find_knob, parse_spec

REPO_ROOT = Path(__file__).resolve().parents[1]

# config.yaml files as `infomin pretrain` / `learn-views` wrote them at e19c491, with flat method
# fields, each named <run>.<its config hash>.yaml
WRITTEN_AT = Path(__file__).parent / "data" / "written-at-e19c491"
WRITTEN_BEFORE = [(path.name.split(".")[0], path.name.split(".")[1], path.read_text())
                  for path in sorted(WRITTEN_AT.glob("*.yaml"))]


@pytest.mark.parametrize(("name", "digest", "text"), WRITTEN_BEFORE, ids=[row[0] for row in WRITTEN_BEFORE])
def test_a_config_yaml_written_with_flat_method_fields_loads_and_hashes_as_it_did(tmp_path, name, digest, text):
    (tmp_path / "config.yaml").write_text(text)
    config = read_config(tmp_path / "config.yaml")
    assert config_hash(config) == digest and config_hash(validate(config)) == digest


@pytest.mark.parametrize(("name", "digest", "text"), WRITTEN_BEFORE, ids=[row[0] for row in WRITTEN_BEFORE])
def test_a_validated_config_saved_and_read_back_keeps_its_hash(tmp_path, name, digest, text):
    (tmp_path / "old.yaml").write_text(text)
    validate(read_config(tmp_path / "old.yaml")).save(tmp_path / "config.yaml")
    assert config_hash(read_config(tmp_path / "config.yaml")) == digest


# committed CSVs whose every planned point's rows are in the file (the presets unchanged since)
COMMITTED = [
    ("colour-spaces", "docs/figures/colour-spaces.csv"),
    ("colour-spaces", "docs/figures/colour-spaces-seg.csv"),
    ("frequency-sigma", "docs/figures/frequency-sigma.csv"),
    ("crop-scale-linear", "docs/figures/crop-scale-linear-8ep.csv"),
    ("crop-scale-mlp", "docs/figures/crop-scale-mlp.csv"),
    ("jitter-linear", "docs/figures/jitter-linear.csv"),
    ("jitter-mlp", "docs/figures/jitter-mlp.csv"),
]


@pytest.mark.parametrize(("preset", "csv"), COMMITTED, ids=[csv for _, csv in COMMITTED])
def test_every_point_a_preset_plans_is_in_its_committed_csv(tmp_path, preset, csv):
    plan = get_preset(preset)["sweep"]
    base = resolve_config(preset, {})
    family, knob = find_knob(plan["knob"], base.views)
    points = plan_points(base, family, knob.name, parse_spec(knob, str(plan["spec"])), int(plan["seeds"]), tmp_path)
    have = set(pd.read_csv(REPO_ROOT / csv, dtype=str)["config_hash"].dropna())
    assert {point.config_hash for point in points} <= have


def test_every_config_written_at_e19c491_is_read():
    assert sorted(row[0] for row in WRITTEN_BEFORE) == ["bank-nce", "demo", "jigsaw-moco", "learn-views", "moco"]
