"""`infomin mi-estimate` on the synthetic path: JSON, units, results CSV rows, one-line errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from infomin_cli.cli import main
from infomin_cli.results import read_results


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def _cli(capsys: pytest.CaptureFixture[str]):
    """Run `infomin mi-estimate ARGS` in-process (a subprocess pays ~10 s of imports on this machine)."""
    threads = torch.get_num_threads()

    def run(*args: str) -> Result:
        with pytest.raises(SystemExit) as exit_info:
            main(["mi-estimate", *args])
        out = capsys.readouterr()
        torch.set_num_threads(threads)
        return Result(int(exit_info.value.code or 0), out.out, out.err)

    return run


def test_mi_estimate_synthetic_json_in_bits_and_csv_rows(_cli, tmp_path: Path) -> None:
    results = tmp_path / "results.csv"
    out = _cli("--source", "gaussian", "--dim", "2", "--mi", "0,1", "--estimators", "infonce,ksg",
               "--steps", "30", "--batch-size", "32", "--eval-batches", "5", "--ksg-samples", "300",
               "--units", "bits", "--json", "--results", str(results))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["estimator"], r["true_mi"]) for r in rows] == [
        ("infonce", 0.0), ("ksg", 0.0), ("infonce", pytest.approx(1 / math.log(2))), ("ksg", pytest.approx(1 / math.log(2)))]
    infonce = rows[0]
    assert infonce["unit"] == "bits" and infonce["K"] == 32 and infonce["log_k"] == pytest.approx(5.0)
    assert {"value", "ci_low", "ci_high", "train_value", "heldout_value", "saturated"} <= set(infonce)
    frame = read_results(results)
    assert list(frame["metric_name"]) == ["mi:infonce", "mi:ksg", "mi:infonce", "mi:ksg"]
    assert set(frame["unit"]) == {"bits"} and list(frame["K"])[:2] == [32, 300]
    assert (frame["metric_ci_low"] <= frame["metric_value"]).all()


@pytest.mark.parametrize("args,expected", [
    (["--source", "gaussian", "--estimators", "foo"], "infonce, nwj, smile, dv, ksg"),
    (["--source", "gauss"], "gaussian, cubic, shuffled"),
    (["--source", "gaussian", "--mi", "1,x"], "comma-separated numbers"),
    (["--source", "gaussian", "--mi", "-1"], ">= 0"),
    (["--source", "gaussian", "--units", "furlongs"], "nats or bits"),
    ([], "exactly one of"),
])
def test_mi_estimate_bad_input_is_one_line_and_exit_2(_cli, args: list[str], expected: str) -> None:
    out = _cli(*args)
    assert out.returncode == 2
    assert expected in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_mi_estimate_shows_each_point_and_its_critics_steps_on_stderr(_cli, monkeypatch) -> None:
    """The README's source sweep runs minutes: a bar over (MI value, estimator) points and one over
    the current critic's training steps, on stderr; none with --quiet or when stderr is no terminal."""
    args = ("--source", "gaussian", "--dim", "2", "--mi", "0,1", "--estimators", "infonce,ksg", "--steps", "30",
            "--batch-size", "32", "--eval-batches", "5", "--ksg-samples", "300")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal
    shown = _cli(*args)
    assert shown.returncode == 0
    for text in ("gaussian, d=2", "I = 1 nats, ksg", "4/4", "1 thread"):  # the last frame
        assert text in shown.stderr, text
    assert "mutual information" in shown.stdout and "mutual information" not in shown.stderr
    assert _cli(*args, "--quiet").stderr == ""


def test_each_point_and_each_critic_step_moves_a_bar() -> None:
    from rich.progress import Progress

    from infomin_cli.estimation import synthetic_rows

    class Recording(Progress):
        def update(self, task_id, **fields):
            self.seen.append((task_id, dict(fields)))
            super().update(task_id, **fields)

    progress = Recording(disable=True)
    progress.seen = []
    rows = synthetic_rows("gaussian", 2, "0,1", "infonce,ksg", "separable", 30, 32, 5, 5.0, 300, 0, progress=progress)
    points, steps = progress.task_ids
    assert len(rows) == 4 and progress.tasks[points].completed == 4 and progress.tasks[points].total == 4
    named = [fields["stats"] for task, fields in progress.seen if task == points and "stats" in fields]
    assert named == ["I = 0 nats, infonce", "I = 0 nats, ksg", "I = 1 nats, infonce", "I = 1 nats, ksg"]
    done = [fields["completed"] for task, fields in progress.seen if task == steps and "completed" in fields]
    assert done == [*range(1, 31)] * 2  # both infonce critics, step by step; KSG trains nothing
