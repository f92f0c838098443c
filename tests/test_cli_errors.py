"""Bad input: one line on stderr that lists the valid choices, exit code 2, no traceback."""

import subprocess
import sys

import pytest


def infomin(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "infomin_cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["pretrain", "--views", "nope"], "lab-split"),
        (["pretrain", "--dataset", "imagenet21k"], "embedded"),
        (["pretrain", "--encoder", "vgg"], "alexnet-half"),
        (["pretrain", "--preset", "nope"], "demo"),
        (["pretrain", "--views", "lab-split", "--knob", "crop-scale=7"], "valid range"),
        (["pretrain", "--dataset", "stl10"], "--data-root"),
    ],
)
def test_bad_pretrain_input_is_one_line_exit_2(tmp_path, args, listed):
    result = infomin(*args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and listed in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_probe_of_a_missing_run_is_one_line(tmp_path):
    result = infomin("probe", str(tmp_path / "nope"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
