"""A factors sweep's reference rows (Moving MNIST, B.4): per seed, the untrained architecture and the
architecture trained on labels, planned beside the view settings and never mistaken for one."""

from __future__ import annotations

import torch

from infomin_cli.config import resolve_config
from infomin_cli.evaluate.probes import PROBES
from infomin_cli.run_files import CONFIG
from infomin_cli.runs import load_run, untrained_run, validate
from infomin_cli.sweep.plan import plan_points, reference_points
from infomin_cli.views.base import VIEWS

FACTORS = PROBES.get("factors")


def _points(tmp_path, values=("digit", "position"), seeds=2):
    base = resolve_config("moving-mnist", {}, "embedded")
    return plan_points(base, VIEWS.get("moving-mnist"), "shared", list(values), seeds, tmp_path / "runs")


def test_each_seed_gets_one_untrained_and_one_supervised_reference(tmp_path):
    references = reference_points(_points(tmp_path), tmp_path / "runs", FACTORS.references)
    assert [(p.value, p.seed) for p in references] == [("untrained", 0), ("supervised", 0),
                                                       ("untrained", 1), ("supervised", 1)]
    assert all(p.run_dir.name.startswith(f"shared-{p.value}-seed{p.seed}-") for p in references)


def test_a_reference_hash_is_its_own_and_does_not_depend_on_the_shared_factors(tmp_path):
    points = _points(tmp_path)
    references = reference_points(points, tmp_path / "runs", FACTORS.references)
    hashes = [p.config_hash for p in points + references]
    assert len(set(hashes)) == len(hashes)  # no reference row can pass for a view setting's, or each other's
    other = reference_points(_points(tmp_path, values=("background+position",)), tmp_path / "runs",
                             FACTORS.references)
    assert [p.config_hash for p in other] == [p.config_hash for p in references]


def test_the_untrained_reference_is_the_random_init_of_a_run_of_the_same_config(tmp_path, tiny_config):
    config = validate(tiny_config)
    folder = tmp_path / "run"
    folder.mkdir()
    config.save(folder / CONFIG)
    fresh, loaded = untrained_run(config, folder, "cpu"), load_run(folder, "cpu", random_init=True)
    assert not fresh.trained and fresh.summary == {}
    for (name, a), (_, b) in zip(fresh.model.state_dict().items(), loaded.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
