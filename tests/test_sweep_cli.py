"""`infomin sweep` turns flags and presets into the right points; bad input is one line, no traceback.

The runner and its preflight are replaced by a recorder here (they have their own tests), so nothing
trains and no data is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.config import get_preset, load_presets, resolve_config
from infomin_cli.sweep import runner
from infomin_cli.sweep.spec import find_knob, parse_spec

SWEEP_PRESETS = sorted(name for name, entry in load_presets().items() if "sweep" in entry)


@pytest.fixture
def recorded(monkeypatch):
    """The planned points and job, with the preflight's data checks skipped (the paper-scale datasets
    are not on this machine; the preflight has its own tests)."""
    calls = []
    monkeypatch.setattr(runner, "run_sweep", lambda points, job, **kw: calls.append((points, job)) or [])
    monkeypatch.setattr(runner, "preflight", lambda points, job: None)
    return calls


def _invoke(*args: str):
    return CliRunner().invoke(app, ["sweep", *args])


def test_knob_and_spec_become_points_with_the_knob_in_each_config(recorded, tmp_path):
    result = _invoke("crop-scale", "0.2:1.0:3", "--seeds", "2", "--epochs", "1", "--out", str(tmp_path / "c.csv"))
    assert result.exit_code == 0, result.output
    points, job = recorded[0]
    assert [(p.value, p.seed) for p in points] == [(0.2, 0), (0.6, 0), (1.0, 0), (0.2, 1), (0.6, 1), (1.0, 1)]
    assert {p.config.views for p in points} == {"infomin-aug"} and {p.config.epochs for p in points} == {1}
    assert job.csv == tmp_path / "c.csv"


def test_preset_supplies_knob_spec_seeds_and_head(recorded):
    assert _invoke("--preset", "crop-scale-mlp").exit_code == 0
    points, job = recorded[0]
    assert len(points) == 18 and {p.config.head for p in points} == {"mlp"}
    assert {p.config.temperature for p in points} == {0.15}
    assert job.csv == Path("results/crop-scale-mlp.csv")


def test_paper_scale_uses_the_seeds_settings_and_points(recorded):
    assert _invoke("--preset", "crop-scale-linear", "--scale", "paper").exit_code == 0
    points, job = recorded[0]
    assert {(p.config.dataset, p.config.encoder, p.config.epochs) for p in points} == {("imagenet", "resnet50", 100)}
    assert [p.value for p in points][:3] == [0.08, 0.1, 0.2] and job.probe_epochs == 60


def test_patch_distance_at_paper_scale_pretrains_on_div2k_and_probes_stl10(recorded):
    assert _invoke("--preset", "patch-distance", "--scale", "paper", "--probe-data-root", "/data/stl10").exit_code == 0
    points, job = recorded[0]
    assert {p.config.dataset for p in points} == {"div2k"}
    assert (job.probe_dataset, job.probe_data_root) == ("stl10", "/data/stl10")


def test_an_unknown_probe_dataset_fails_before_anything_trains(recorded):
    result = _invoke("crop-scale", "0.2,1.0", "--probe-dataset", "imagenett")
    assert result.exit_code == 2 and "unknown dataset 'imagenett'" in result.stderr
    assert not recorded


def test_fewer_negatives_than_the_batch_fail_before_anything_trains(recorded):
    result = _invoke("crop-scale", "0.2,1.0", "--negatives", "16")
    assert result.exit_code == 2 and "at least the batch size" in result.stderr
    assert not recorded


def test_flags_override_the_preset(recorded):
    assert _invoke("jitter", "0.5,1.0", "--preset", "jitter-linear", "--epochs", "1", "--seeds", "1").exit_code == 0
    points, _ = recorded[0]
    assert [p.value for p in points] == [0.5, 1.0] and {p.config.epochs for p in points} == {1}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "give KNOB and SPEC"),
        (("crop-scal", "0.1:1"), "sweepable knobs"),
        (("crop-scale", "0.01:1"), "out of range"),
        (("sigma", "0.5:2", "--views", "infomin-aug"), "has no knob 'sigma'"),
        (("--preset", "demo"), "give KNOB and SPEC"),
        (("--preset", "no-such-preset"), "unknown preset"),
        (("crop-scale", ""), "empty sweep spec for knob crop-scale"),
        (("shared", " ", "--preset", "moving-mnist"), "empty sweep spec for knob shared"),
        (("", "0.2,1.0"), "no view family has a knob ''"),
        (("crop-scale", "0.2,1.0", "--label", "nope"), "--label 'nope': dataset 'embedded' has no such label"),
    ],
)
def test_bad_input_is_one_line(recorded, args, says):
    result = _invoke(*args)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("name", SWEEP_PRESETS)
@pytest.mark.parametrize("scale", ["embedded", "paper"])
def test_every_sweep_preset_names_a_real_knob_and_a_valid_spec(name, scale):
    entry = get_preset(name)  # with `base:` resolved, as the sweep command reads it
    plan = {**entry["sweep"], **(entry["sweep"].get("paper", {}) if scale == "paper" else {})}
    config = resolve_config(name, {}, scale)
    family, knob = find_knob(plan["knob"], config.views)
    assert family.name == config.views
    if knob.kind == "text":  # the values are folders the user makes first (learned views): no default spec
        assert "spec" not in plan
        return
    assert len(parse_spec(knob, str(plan["spec"]))) >= 5


def test_the_seed_has_a_preset_per_curve():
    sections = {get_preset(n)["section"] for n in SWEEP_PRESETS}
    assert sections >= {"B.1", "B.2", "B.3", "C.1", "C.2"} and len(SWEEP_PRESETS) >= 8


def test_json_prints_only_the_points_rows_as_plain_values(monkeypatch, tmp_path):
    import json

    import numpy as np

    monkeypatch.setattr(runner, "preflight", lambda points, job: None)
    monkeypatch.setattr(runner, "run_sweep", lambda points, job, **kw: [
        {"knob_value": np.float64(0.5), "seed": np.int64(0), "metric_value": np.float64("nan")}, {}])
    result = CliRunner().invoke(app, ["sweep", "crop-scale", "0.5", "--epochs", "1", "--json", "--quiet",
                                      "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"knob_value": 0.5, "seed": 0, "metric_value": None}]
