"""The Python API (`from infomin_cli import pretrain, probe, sweep, estimate`) is the commands
without the command line: same code paths, same files, same refusals, plain data back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infomin_cli import InfominError, estimate, pretrain, probe, sweep
from infomin_cli.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="tiny", views="lab-split", batch_size=32, epochs=1, knn_monitor=False, quiet=True)
TINY_FLAGS = ["--dataset", "tiny", "--views", "lab-split", "--batch-size", "32", "--epochs", "1", "--no-knn-monitor",
              "--quiet"]


def cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout


def test_importing_the_api_loads_neither_torch_nor_pandas():
    out = python("import sys\nfrom infomin_cli import pretrain, probe, sweep, estimate\n"
                 "print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))")
    assert out.strip() == "[]"


def test_the_package_lists_the_api():
    assert {"pretrain", "probe", "sweep", "estimate", "InfominError"} <= set(dir(__import__("infomin_cli")))


def test_sweep_is_callable_however_the_sweep_package_was_imported_first():
    out = python("import infomin_cli.sweep.runner\nfrom infomin_cli import sweep\nimport infomin_cli\n"
                 "print(callable(sweep), infomin_cli.sweep is sweep, hasattr(sweep, 'runner'))")
    assert out.split() == ["True", "True", "True"]


def test_pretrain_gives_the_commands_run(tmp_path, capsys):
    code, out, _ = cli(capsys, "pretrain", *TINY_FLAGS, "--json", "--out", tmp_path / "cli")
    assert code == 0
    from_cli = json.loads(out)
    from_api = pretrain(out=tmp_path / "api", **TINY)
    for key in ("config_hash", "objective", "loss", "i_nce", "K", "log_K", "epochs"):
        assert from_api[key] == from_cli[key], key
    assert (tmp_path / "api" / "config.yaml").read_text() == (tmp_path / "cli" / "config.yaml").read_text()


def test_pretrain_resumes_from_the_folder_and_extends_the_epochs(tmp_path):
    first = pretrain(out=tmp_path / "run", **TINY)
    longer = pretrain(resume=tmp_path / "run", epochs=2, quiet=True)
    assert first["epochs"] == 1 and longer["epochs"] == 2


def test_probe_returns_one_row_per_label_and_appends_them(tmp_path):
    pretrain(out=tmp_path / "run", **TINY)
    rows = probe(tmp_path / "run", label=["class", "colour"], epochs=2, results=tmp_path / "r.csv")
    assert [(r["probe_label"], r["metric_name"]) for r in rows] == [("class", "top1"), ("colour", "top1")]
    assert all(isinstance(r["metric_value"], float) for r in rows)
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 2


def test_sweep_returns_one_row_per_point(tmp_path):
    rows = sweep("crop-scale", [0.5, 1.0], **{**TINY, "views": "infomin-aug"}, probe_epochs=2,
                 out=tmp_path / "s.csv", runs_dir=tmp_path / "runs")
    assert [r["knob_value"] for r in rows] == [0.5, 1.0]
    assert json.dumps(rows)  # plain values


def test_estimate_of_a_known_source_returns_its_estimates():
    rows = estimate(source="gaussian", dim=2, mi=[1.0], estimators=["infonce"], steps=5, eval_batches=2, quiet=True)
    assert len(rows) == 1 and rows[0]["true_mi"] == 1.0 and rows[0]["unit"] == "nats"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (lambda t: pretrain(out=t / "run", views="nope"), ["pretrain", "--views", "nope", "--out", "{t}/run"]),
        (lambda t: pretrain(out=t / "run", epochs=0), ["pretrain", "--epochs", "0", "--out", "{t}/run"]),
        (lambda t: pretrain(out=t / "run", epochz=3), ["pretrain", "--epochz", "3", "--out", "{t}/run"]),
        (lambda t: pretrain(out=t / "run", knob={"crop-scale": 7}, views="infomin-aug"),
         ["pretrain", "--views", "infomin-aug", "--knob", "crop-scale=7", "--out", "{t}/run"]),
        (lambda t: probe(t / "missing", results=t / "r.csv"), ["probe", "{t}/missing", "--results", "{t}/r.csv"]),
        (lambda t: sweep(out=t / "s.csv", runs_dir=t / "runs"), ["sweep", "--out", "{t}/s.csv", "--runs-dir", "{t}/runs"]),
        (lambda t: estimate(source="gaussian", units="furlongs"), ["mi-estimate", "--source", "gaussian", "--units", "furlongs"]),
    ],
)
def test_bad_input_raises_the_commands_line_and_writes_nothing(tmp_path, capsys, call, args):
    code, _, err = cli(capsys, *[a.replace("{t}", str(tmp_path)) for a in args])
    assert code == 2
    with pytest.raises(InfominError) as raised:
        call(tmp_path)
    assert err.strip().startswith(f"error: {raised.value}")  # the CLI may add where its --help is
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_documented_example_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "api_example.py"), str(tmp_path)], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["pretrain", "probe", "probe", "estimate", "sweep",
                                                                      "sweep", "refused"]


def test_sweep_json_prints_the_rows_the_api_returns(tmp_path, capsys):
    where = ["--out", tmp_path / "s.csv", "--runs-dir", tmp_path / "runs"]
    code, out, _ = cli(capsys, "sweep", "crop-scale", "0.5", *TINY_FLAGS, "--views", "infomin-aug", "--probe-epochs",
                       "2", "--json", *where)
    assert code == 0
    again = sweep("crop-scale", "0.5", **{**TINY, "views": "infomin-aug"}, probe_epochs=2, out=tmp_path / "s.csv",
                  runs_dir=tmp_path / "runs")  # found in the CSV, not trained again
    assert json.loads(out) == again and len(again) == 1
