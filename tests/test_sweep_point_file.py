"""A sweep point file runs only registered functions, and a damaged one is one line naming it.

`sweep_point.json` sits in the runs folder, where anyone who can write there can change it: the
worker looks the functions it names up in `sweep/functions.py`'s registries (never imports them)
and reads every field through a checked reader, as `run_files.py` reads run files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.sweep.job import POINT_FILE, SweepJob, point_to_dict, read_point_file, write_point_file
from infomin_cli.sweep.plan import SweepPoint

MARKER_MODULE = '''
from pathlib import Path


def pwned(*args, **kwargs):
    """Importable, callable with a point's arguments, registered nowhere: it must never run."""
    Path(__file__).with_name("pwned.txt").write_text("ran")
    return {}
'''


def _spec(folder: Path, **job: object) -> dict:
    point = SweepPoint("crop-scale", 0.5, 0, RunConfig(epochs=1), "0123456789abcdef", folder)
    return point_to_dict(point, SweepJob(csv=folder.parent / "sweep.csv", **job))


def _worker(point_file: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "infomin_cli.sweep.worker", *args, str(point_file)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize(("field", "named"), [("pretrain", "os:system"), ("probe", "marker:pwned")])
def test_a_point_file_naming_an_importable_function_runs_nothing(tmp_path, named, field):
    (tmp_path / "marker.py").write_text(MARKER_MODULE)
    folder = tmp_path / "runs" / "point"
    folder.mkdir(parents=True)
    spec = _spec(folder)
    spec["job"][field] = named
    point_file = write_point_file(spec)
    for args in ((), ("--pretrain-only",)):
        done = _worker(point_file, *args, cwd=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert str(point_file) in lines[0] and f"{field} function {named!r}" in lines[0] and "not registered" in lines[0]
        assert "rerun the sweep" in lines[0]
    assert not (tmp_path / "pwned.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == [POINT_FILE]  # no lock, no run files: nothing started


def test_a_point_file_round_trips(tmp_path):
    folder = tmp_path / "point"
    folder.mkdir()
    spec = _spec(folder, label="class", negatives=64, probe_task="classification")
    point, job = read_point_file(write_point_file(spec))
    assert point_to_dict(point, job) == spec


DAMAGE = [
    (lambda path, spec: path.write_bytes(b'{"knob": "crop-scale", '), "not valid JSON"),
    (lambda path, spec: path.write_bytes(b"\xff\xfe\x00garbage"), "not valid JSON"),
    (lambda path, spec: path.write_text("[1, 2]"), "a JSON list, not an object"),
    (lambda path, spec: path.write_text(json.dumps({k: v for k, v in spec.items() if k != "seed"})), "no 'seed'"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "seed": "0"})), 'seed is "0", not int'),
    (lambda path, spec: path.write_text(json.dumps({**spec, "seed": True})), "seed is true, not int"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "value": [1]})), "value is [1], not str or int or float"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "extra": 1})), "unknown field 'extra'"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "job": {**spec["job"], "negatives": "64"}})),
     'job.negatives is "64", not int or null'),
    (lambda path, spec: path.write_text(json.dumps({**spec, "job": {**spec["job"], "command": "rm"}})),
     "unknown field job.'command'"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "job": {k: v for k, v in spec["job"].items()
                                                                    if k != "csv"}})), "no job.'csv'"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "config": {**spec["config"], "epochs": 0}})),
     "its config: --epochs 0"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "config": {**spec["config"], "shell": "x"}})),
     "its config: unknown config field 'shell'"),
    (lambda path, spec: path.write_text(json.dumps({**spec, "run_dir": "/tmp/elsewhere"})),
     "names another run folder"),
]


@pytest.mark.parametrize(("damage", "says"), DAMAGE, ids=[says for _, says in DAMAGE])
def test_a_damaged_point_file_is_one_line_naming_it_and_the_way_out(tmp_path, damage, says):
    folder = tmp_path / "point"
    folder.mkdir()
    spec = _spec(folder)
    path = write_point_file(spec)
    damage(path, spec)
    with pytest.raises(InfominError) as refused:
        read_point_file(path)
    text = str(refused.value)
    assert text.startswith(f"{path} is damaged (") and says in text and text.endswith("rerun the sweep, which writes it again")
    assert "\n" not in text
