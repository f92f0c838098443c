"""Cluster sweeps through submitit: the same CSV and locks; a pre-empted job requeues and resumes,
a killed one is reported and resumed by the rerun. Jobs run through submitit's LocalExecutor (the
`submitit-local` launcher), training replaced by test_sweep_runner's fake module (one checkpointed
'epoch' per FAKE_EPOCH_SECONDS, each start recorded), so the jobs never import torch."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from infomin_cli.errors import InfominError
from infomin_cli.results.table import read_results
from infomin_cli.sweep.cluster import (
    SET_BY_SWEEP,
    TYPED_OPTIONS,
    Launch,
    make_launch,
    parse_time,
    run_cluster_sweep,
    submit,
    watch,
)
from tests.test_sweep_runner import _job, _points, fake  # noqa: F401 - the fake module's fixture

WORLD_PRETRAIN = '''
import os
from pathlib import Path

from fake_point import pretrain
from infomin_cli.sweep.functions import PRETRAINS


@PRETRAINS.register("fake-ranks")
def pretrain_recording_ranks(config, out_dir, resume=False, progress=False):
    """Under torchrun: each rank notes what torchrun told it; rank 0 alone then writes the run, as
    `pretrain` does (the one-process fake has no ranks: two writers would race on its checkpoint)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(out_dir) / "ranks.txt", "a") as handle:
        handle.write(f"{os.environ.get('RANK')}/{os.environ.get('WORLD_SIZE')}\\n")
    if os.environ.get("RANK", "0") != "0":
        return {}
    return pretrain(config, out_dir, resume, progress)
'''


def one_point(root: Path):
    return _points(root)[:1]


def task_pid(job, timeout: float = 60.0) -> int:
    """The job's task process (the child of submitit's local controller)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        children = Path(f"/proc/{job._process.pid}/task/{job._process.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("the job never started its task")


def wait_for_epoch(run_dir: Path, epoch: int = 1, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        ckpt = run_dir / "checkpoint.json"
        if ckpt.exists() and int(ckpt.read_text().split(":")[1].strip(" }")) >= epoch:
            return
        time.sleep(0.05)
    raise AssertionError(f"{run_dir} never reached epoch {epoch}")


def starts(point) -> list[int]:
    return [int(s) for s in (point.run_dir / "starts.txt").read_text().split()]


@pytest.mark.slow
def test_a_pre_empted_job_requeues_and_resumes_from_its_checkpoint(fake, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.3")
    points = one_point(fake)
    launch = Launch("submitit-local")
    submitted = submit(points, _job(fake), launch, fake / "runs")
    wait_for_epoch(points[0].run_dir)
    os.kill(task_pid(submitted[0][1]), signal.SIGUSR2)  # what SLURM sends before pre-empting (submitit's signal)
    watch(points, _job(fake), submitted, show=False)
    first, again = starts(points[0])
    assert first == 0 and again >= 1  # the requeued job continued from the epoch checkpoint
    rows = read_results(fake / "sweep.csv")
    assert list(rows["config_hash"]) == [points[0].config_hash]


@pytest.mark.slow
def test_a_killed_job_is_reported_in_one_line_and_the_rerun_resumes_it(fake, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.3")
    points = one_point(fake)
    submitted = submit(points, _job(fake), Launch("submitit-local"), fake / "runs")
    wait_for_epoch(points[0].run_dir)
    os.kill(task_pid(submitted[0][1]), signal.SIGKILL)  # no signal to catch: a node that died
    with pytest.raises(InfominError, match="1 of 1 points failed .*rerun the same command"):
        watch(points, _job(fake), submitted, show=False)
    assert not (fake / "sweep.csv").exists()
    run_cluster_sweep(points, _job(fake), Launch("submitit-local"), fake / "runs", show=False)
    first, again = starts(points[0])
    assert first == 0 and again >= 1
    assert len(read_results(fake / "sweep.csv")) == 1
    # a third run finds the point in the CSV and submits nothing
    assert submit(points, _job(fake), Launch("submitit-local"), fake / "runs") == []


@pytest.mark.slow
def test_gpus_per_point_trains_the_point_under_torchrun(fake, monkeypatch):  # noqa: F811
    (fake / "fake_ranks.py").write_text(WORLD_PRETRAIN)
    monkeypatch.delitem(sys.modules, "fake_ranks", raising=False)
    import fake_ranks  # noqa: F401 - registers "fake-ranks" (the fixture forgets it afterwards)

    points = one_point(fake)
    job = _job(fake, pretrain="fake-ranks")
    run_cluster_sweep(points, job, Launch("submitit-local", gpus_per_point=2), fake / "runs", show=False)
    assert sorted((points[0].run_dir / "ranks.txt").read_text().split()) == ["0/2", "1/2", "None/None"]
    assert len(read_results(fake / "sweep.csv")) == 1  # torchrun trained; the job itself probed and wrote the row


FAKE_SLURM = {
    "srun": "#!/bin/sh\necho 'slurm 23.02'\n",
    "sbatch": "#!/bin/sh\ncp \"$1\" \"$(dirname \"$0\")/submitted.sh\"\necho 'Submitted batch job 4242'\n",
}


def test_slurm_jobs_carry_the_researchers_options(tmp_path, monkeypatch, capsys):
    from infomin_cli.cli import main

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKE_SLURM.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "crop-scale", "0.2,1.0", "--dataset", "tiny", "--views", "lab-split", "--batch-size", "32",
              "--launcher", "slurm",
              "--gpus-per-point", "8", "--slurm-partition", "gpu", "--slurm-time", "2-00:00:00", "--slurm-account",
              "proj", "--slurm-qos", "high", "--slurm-option", "constraint=h100", "--slurm-option", "mem_gb=200",
              "--slurm-option", "array-parallelism=1", "--no-wait",
              "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "s.csv"), "--quiet"])
    assert exited.value.code in (0, None)
    script = (bin_dir / "submitted.sh").read_text()
    for line in ("--partition=gpu", "--account=proj", "--qos=high", "--time=2880", "--gpus-per-node=8",
                 "--constraint=h100", "--signal=USR2@120", "--array=0-1%1", "--cpus-per-task=64", "--mem=200GB"):
        assert f"#SBATCH {line}" in script, line
    assert "submitted 2 job(s) (4242_0, 4242_1)" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(("text", "minutes"), [("90", 90), ("1:30:00", 90), ("2-00:00:00", 2880), ("10:30", 11)])
def test_slurm_time_reads_the_forms_sbatch_takes(text, minutes):
    assert parse_time(text) == minutes


def test_the_typed_slurm_options_are_submitits_own():
    """Every int, float or bool parameter of the installed submitit is converted and checked (or set
    by the sweep itself), with submitit's type."""
    import typing

    import submitit
    from submitit.slurm import slurm

    declared = {**{k: v for k, v in typing.get_type_hints(slurm._make_sbatch_string).items() if k != "return"},
                **submitit.AutoExecutor._typed_parameters()}
    scalar = {name: kind for name, hint in declared.items()
              for kind in (typing.get_args(hint) or (hint,)) if kind in (int, float, bool)}
    internal = {"map_count", "exclusive"}  # submitit's own bookkeeping; exclusive also takes a name
    assert set(scalar) - internal <= set(TYPED_OPTIONS) | set(SET_BY_SWEEP)
    for name, (kind, _) in TYPED_OPTIONS.items():
        assert scalar[name] is kind, name


def _options(*items: str) -> dict:
    return make_launch("submitit-local", None, None, None, None, None, None, list(items), True).options


def test_slurm_options_are_converted_to_submitits_types():
    assert _options("mem_gb=200", "cpus_per_task=16", "use_srun=false", "constraint=h100") == {
        "mem_gb": 200.0, "cpus_per_task": 16, "use_srun": False, "constraint": "h100"}


@pytest.mark.parametrize(("item", "says"), [
    ("mem_gb=abc", "mem_gb='abc' is not a number above 0"),
    ("mem_gb=0", "not a number above 0"),
    ("mem_gb=nan", "not a number above 0"),
    ("cpus_per_task=1.5", "not a whole number of at least 1"),
    ("cpus_per_task=0", "not a whole number of at least 1"),
    ("signal_delay_s=-5", "not a whole number of at least 0"),
    ("stderr_to_stdout=maybe", "not true or false"),
    ("timeout_min=60", "use --slurm-time"),
    ("gpus_per_node=4", "use --gpus-per-point"),
    ("nodes=2", "one task on one node"),
])
def test_a_slurm_option_of_the_wrong_type_is_one_line(item, says):
    with pytest.raises(InfominError, match=re.escape(says)):
        _options(item)


def test_a_slurm_option_given_twice_is_refused():
    with pytest.raises(InfominError, match="given twice"):
        _options("mem_gb=100", "mem-gb=200")
