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

# (name, hash, config.yaml) as `infomin pretrain` wrote them at e19c491, with flat method fields
WRITTEN_BEFORE = [
    ("demo", "657d255e1f757947", """\
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
queue: 65536
key_momentum: 0.999
bank_negatives: 16384
bank_loss: softmax
jigsaw_beta: 0.5
flow: vp
flow_blocks: 3
view_mode: semi-supervised
labelled: 0.1
generator_lr: 0.0002
save_every: 2
temperature: 0.07
batch_size: 128
epochs: 10
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
sgd_momentum: 0.9
seed: 0
image_size: null
limit: null
device: auto
preset: demo
knn_monitor: true
log: null
sync_bn: false
stream: null
strict_data: false
workers: null
"""),
    ("moco", "82a6913081ba32fc", """\
dataset: embedded
data_root: null
views: infomin-aug
knobs:
  crop-scale: 0.2
  jitter: 1.0
  level: crop+jitter
encoder: convnet
head: linear
feat_dim: 128
objective: moco
queue: 4096
key_momentum: 0.99
bank_negatives: 16384
bank_loss: softmax
jigsaw_beta: 0.5
flow: vp
flow_blocks: 3
view_mode: semi-supervised
labelled: 0.1
generator_lr: 0.0002
save_every: 2
temperature: 0.07
batch_size: 128
epochs: 8
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
sgd_momentum: 0.9
seed: 0
image_size: null
limit: 8000
device: auto
preset: crop-scale-linear-moco
knn_monitor: true
log: null
sync_bn: false
stream: null
strict_data: false
workers: null
"""),
    ("bank-nce", "d2947c2d5daa7b2b", """\
dataset: embedded
data_root: null
views: lab-split
knobs:
  crop-scale: 0.2
  space: lab
encoder: convnet
head: linear
feat_dim: 128
objective: memory-bank
queue: 65536
key_momentum: 0.999
bank_negatives: 4096
bank_loss: nce
jigsaw_beta: 0.5
flow: vp
flow_blocks: 3
view_mode: semi-supervised
labelled: 0.1
generator_lr: 0.0002
save_every: 2
temperature: 0.07
batch_size: 128
epochs: 30
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
sgd_momentum: 0.9
seed: 0
image_size: null
limit: null
device: auto
preset: null
knn_monitor: true
log: null
sync_bn: false
stream: null
strict_data: false
workers: null
"""),
    ("learn-views", "4670793d8d62406e", """\
dataset: embedded
data_root: null
views: colorspace-split
knobs:
  space: rgb
  crop-scale: 0.2
encoder: convnet
head: linear
feat_dim: 128
objective: learn-views
queue: 65536
key_momentum: 0.999
bank_negatives: 16384
bank_loss: softmax
jigsaw_beta: 0.5
flow: vp
flow_blocks: 3
view_mode: semi-supervised
labelled: 0.1
generator_lr: 0.002
save_every: 5
temperature: 0.07
batch_size: 64
epochs: 20
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
sgd_momentum: 0.9
seed: 0
image_size: null
limit: 2000
device: auto
preset: learned-views-semi
knn_monitor: false
log: null
sync_bn: false
stream: null
strict_data: false
workers: null
"""),
    ("jigsaw-moco", "016dffdeecb1160f", """\
dataset: embedded
data_root: null
views: infomin-aug
knobs:
  crop-scale: 0.2
  jitter: 1.0
  level: infomin+jigsaw
encoder: convnet
head: linear
feat_dim: 128
objective: moco
queue: 1024
key_momentum: 0.999
bank_negatives: 16384
bank_loss: softmax
jigsaw_beta: 0.3
flow: vp
flow_blocks: 3
view_mode: semi-supervised
labelled: 0.1
generator_lr: 0.0002
save_every: 2
temperature: 0.07
batch_size: 128
epochs: 30
optimizer: adam
lr: 0.002
weight_decay: 1.0e-05
sgd_momentum: 0.9
seed: 0
image_size: null
limit: null
device: auto
preset: null
knn_monitor: true
log: null
sync_bn: false
stream: null
strict_data: false
workers: null
"""),
]


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
