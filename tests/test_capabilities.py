"""Datasets and view pairs say what they are; generic code asks that and never names an experiment."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from infomin_cli.data import DATASETS, load_dataset
from infomin_cli.data.base import ITEMS, STORAGE, default_dataset
from infomin_cli.data.source import InMemorySource, ServesEpochs, storage_of, targets_of
from infomin_cli.models import ENCODERS
from infomin_cli.views import VIEWS
from infomin_cli.views.base import HasJigsaw, SavesFiles, ShowsSequences

PACKAGE = Path(__file__).resolve().parents[1] / "infomin_cli"
# each experiment's name may be spelled only by the modules that define it
DEFINED_IN = {"moving-mnist": {"data/moving_mnist.py", "views/moving_mnist.py"}, "nyu-depth-v2": {"data/nyu.py"}}


def test_an_experiments_name_is_spelled_only_where_it_is_defined():
    for name, owners in DEFINED_IN.items():
        spelled = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                   if re.search(rf"[\"']{re.escape(name)}[\"']", path.read_text())}
        assert spelled <= owners, f"{name!r} compared or spelled in generic code: {sorted(spelled - owners)}"


def test_every_dataset_declares_what_it_is():
    for name, entry in DATASETS.items():
        assert entry.item in ITEMS and entry.storage in STORAGE, name
        assert entry.encoder is None or entry.encoder in ENCODERS, name
        assert entry.masks or not entry.class_sets, name  # class sets are of masks


def test_every_view_familys_data_kind_has_a_default_dataset_whose_items_it_reads():
    for name, family in VIEWS.items():
        entry = DATASETS.get(default_dataset(family.data_kind))
        assert (entry.item == "sequence") == (family.data_kind == "sequences"), name


def test_a_split_says_whether_it_is_held_streamed_or_generated():
    embedded = load_dataset("embedded")
    assert storage_of(InMemorySource(embedded.train)) == "memory" and not isinstance(embedded.train, ServesEpochs)
    moving = load_dataset("moving-mnist")
    assert storage_of(moving.pretrain) == "generated" and storage_of(moving.test) == "memory"
    assert set(targets_of(moving.test)) == set(DATASETS.get("moving-mnist").targets)
    assert targets_of(embedded.test) == {}


def test_a_view_pair_offers_what_its_family_declares():
    jigsaw = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 32)
    assert isinstance(jigsaw, HasJigsaw) and jigsaw.has_jigsaw
    assert not isinstance(VIEWS.get("lab-split").make({}, 32), HasJigsaw | SavesFiles | ShowsSequences)
    sequences = VIEWS.get("moving-mnist").make({}, 32)
    assert isinstance(sequences, ShowsSequences)
    assert sequences.probe_inputs(torch.zeros(2, 14, 3, 32, 32, dtype=torch.uint8))[0].ndim == 5
