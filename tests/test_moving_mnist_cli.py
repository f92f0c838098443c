"""Colorful Moving MNIST from the command line: pretrain, probe every factor, and a `shared` sweep
that survives kill -9 (the real trainer and probes, on splits shrunk so each point takes seconds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infomin_cli.results.table import read_results

# the real CLI in a child process, with the dataset's splits shrunk (the only change)
CLI = """
import dataclasses, sys
import infomin_cli.data.moving_mnist as mm

small = dataclasses.replace(mm.MovingMnistSpec(), n_pretrain=256, n_train=200, n_test=128)
mm.MovingMnistSpec = lambda canvas=small.canvas: dataclasses.replace(small, canvas=canvas)
from infomin_cli.cli import main

sys.argv = ["infomin", *sys.argv[1:]]
main()
"""



def _infomin(tmp: Path, *args: str, wait: bool = True):
    script = tmp / "mm_cli.py"
    script.write_text(CLI)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), *args], env=env, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def _sweep_args(csv: Path, runs: Path) -> list[str]:
    return ["sweep", "--preset", "moving-mnist", "shared", "digit,background", "--seeds", "1", "--epochs", "6",
            "--batch-size", "64", "--probe-epochs", "2", "--no-knn-monitor", "--out", str(csv),
            "--runs-dir", str(runs), "--quiet"]


def test_pretrain_then_probe_reports_every_factor_from_both_encoders(tmp_path):
    code, _, err = _infomin(tmp_path, "pretrain", "--preset", "moving-mnist", "--knob", "shared=position",
                            "--epochs", "1", "--batch-size", "64", "--no-knn-monitor", "--out", str(tmp_path / "run"))
    assert code == 0, err[-800:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["generated"] and not summary["streamed"]  # fresh sequences, nothing read from disk
    code, out, err = _infomin(tmp_path, "probe", str(tmp_path / "run"), "--label", "digit", "--label", "position",
                              "--label", "background", "--epochs", "2", "--results", str(tmp_path / "p.csv"))
    assert code == 0, err[-800:]
    rows = read_results(tmp_path / "p.csv")
    got = {(r.probe_label, r.probe_layer, r.metric_name, r.unit) for r in rows.itertuples()}
    assert got == {(label, layer, metric, unit) for layer in ("sequence", "image")
                   for label, metric, unit in (("digit", "top1", "%"), ("background", "top1", "%"),
                                               ("position", "px_error", "px"))}
    assert (rows["knob_value"] == "position").all() and rows["i_nce"].notna().all()
    assert len(out.strip().splitlines()) == 6


@pytest.mark.slow
def test_a_shared_sweep_killed_with_sigkill_resumes_and_loses_and_duplicates_nothing(tmp_path):
    csv, runs = tmp_path / "mm.csv", tmp_path / "runs"
    proc = _infomin(tmp_path, *_sweep_args(csv, runs), wait=False)
    deadline = time.time() + 300
    while time.time() < deadline:  # the first point's rows are in and the second is mid-training
        time.sleep(0.2)
        second = [p for p in runs.glob("shared-background-*")] if runs.is_dir() else []
        if csv.is_file() and second and (second[0] / "checkpoint.pt").is_file():
            break
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it could be killed: {proc.communicate()[1][-800:]}")
    else:
        proc.kill()
        pytest.fail("the sweep never reached its second point")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = next(runs.glob("shared-digit-*"))
    first_checkpoint = (first / "checkpoint.pt").stat().st_mtime_ns
    killed_at = len((second[0] / "metrics.csv").read_text().splitlines()) - 1
    assert 1 <= killed_at < 6

    code, out, err = _infomin(tmp_path, *_sweep_args(csv, runs))
    assert code == 0, err[-800:]
    assert f"plot it: infomin plot-factors {csv}" in out  # the figure a factor table makes
    rows = read_results(csv)
    keys = rows[["knob_value", "probe_label", "probe_layer"]].astype(str).agg("/".join, axis=1)
    assert keys.value_counts().max() == 1  # nothing twice
    assert set(rows["knob_value"]) == {"digit", "background", "untrained", "supervised"}
    assert len(rows) == 4 * 6  # nothing lost: two points and the two references, 3 factors x 2 encoders each
    assert (first / "checkpoint.pt").stat().st_mtime_ns == first_checkpoint  # the finished point was not retrained
    epochs = [line.split(",")[0] for line in (second[0] / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(1, 7)]  # the killed point resumed: each epoch logged once
