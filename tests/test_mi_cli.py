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
