"""The one-command GPU check (benchmarks/gpu_check.py), proven on the CPU before GPU time is spent."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_without_cuda_and_without_dry_run_it_says_so_in_one_line(monkeypatch, capsys):
    from benchmarks import gpu_check

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exited:
        gpu_check.main([])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no CUDA device visible" in err


def test_a_failing_step_is_named_the_next_steps_still_run_and_the_exit_code_is_one(monkeypatch, capsys):
    from benchmarks import gpu_check

    ran = []

    def fine(check):
        ran.append(len(ran))
        return "ok"

    def broken(check):
        raise RuntimeError("exit 1: cannot read /data/x.jpg (truncated)")

    monkeypatch.setattr(gpu_check, "STEPS", [("first", fine), ("streamed C.3 recipe", broken), ("last", fine)])
    with pytest.raises(SystemExit) as exited:
        gpu_check.main(["--dry-run"])
    assert exited.value.code == 1 and ran == [0, 1]
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "gpu-check FAILED: streamed C.3 recipe: exit 1: cannot read /data/x.jpg (truncated)"


@pytest.mark.slow
def test_the_dry_run_runs_every_step_tiny_on_the_cpu_and_leaves_results_alone():
    """About 80 s on 2 shared cores: the CUDA tests (skipped), bench_gpu's arguments, a folder
    written by parallel processes, both streamed recipes through the CLI, the in-memory steps."""
    from benchmarks import gpu_check
    from benchmarks.report import RESULTS

    before = RESULTS.read_bytes()
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--dry-run"], cwd=ROOT,
                            capture_output=True, text=True, timeout=gpu_check.BUDGET_SECONDS)
    assert result.returncode == 0, result.stderr
    for name, _ in gpu_check.STEPS:
        assert f"| {name} |" in result.stdout and f"gpu-check: {name}: FAILED" not in result.stdout
    assert "2 x 3 steps" in result.stdout and "gpu-check passed" in result.stdout
    assert RESULTS.read_bytes() == before
