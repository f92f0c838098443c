"""torch's threads: the cores this process may use, shared among the processes it runs; `--threads`
overrides it on every command that computes, and the progress line shows it (runtime/threads.py)."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from rich.progress import Progress

from infomin_cli.cli import app, main
from infomin_cli.progress import ThreadsColumn
from infomin_cli.runtime import threads


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    """Each test starts with no user choice and leaves torch at the suite's one thread."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setitem(threads._chosen, "given", None)
    monkeypatch.setitem(threads._chosen, "written", None)
    yield
    torch.set_num_threads(1)


def _run(capsys, *args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    capsys.readouterr()
    return int(exited.value.code or 0)


@pytest.mark.parametrize(("text", "cpus"), [("200000 100000", 2), ("150000 100000", 2), ("50000 100000", 1),
                                            ("max 100000", None), ("", None), ("nonsense", None)])
def test_a_cgroup_quota_is_read_as_whole_cpus_rounded_up(tmp_path, text, cpus):
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert threads.cgroup_cpus(path) == cpus
    assert threads.cgroup_cpus(tmp_path / "absent") is None


def test_the_cores_are_the_affinity_mask_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(threads, "cgroup_cpus", lambda: 4)
    assert threads.cores() == 4
    monkeypatch.setattr(threads, "cgroup_cpus", lambda: None)
    assert threads.cores() == 16


def test_processes_share_the_cores_and_threads_or_omp_num_threads_override(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    assert threads.choose() == 8 and threads.choose(processes=3) == 2 and threads.choose(processes=16) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own choice
    assert threads.choose(processes=2) == 3
    assert threads.choose(5, processes=2) == 5  # --threads overrides it


def test_before_torch_loads_the_choice_goes_into_omp_num_threads(monkeypatch):
    """A command that fails on a typo never waits for torch: the number is handed to torch through
    the variable it reads when it loads, and is not mistaken later for the user's own."""
    monkeypatch.setattr(threads, "cores", lambda: 6)
    monkeypatch.delitem(sys.modules, "torch")
    assert threads.apply(processes=2) == 3 and os.environ["OMP_NUM_THREADS"] == "3"
    assert threads.user_choice() is None


def test_worker_processes_get_their_share_or_the_given_threads(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    threads.apply(None, processes=2)
    assert torch.get_num_threads() == 4 and threads.per_process(2) == 4
    threads.apply(3, processes=2)
    assert threads.per_process(2) == 3


def test_a_streamed_folders_decoders_leave_the_trainer_the_remaining_cores(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    threads.apply()
    assert threads.leave_for(3) == 5
    threads.apply(2)  # --threads: kept whatever the workers
    assert threads.leave_for(3) == 2


def test_openmp_is_asked_to_wait_passively_unless_the_user_said_otherwise(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.quiet_waiting()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.quiet_waiting()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def _command(path: str):
    import typer

    command = typer.main.get_command(app)
    for name in path.split():
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", ["pretrain", "sweep", "learn-views", "probe", "mi-estimate", "views show"])
def test_every_command_that_computes_takes_threads_with_its_declared_range(path):
    from infomin_cli.ranges import RANGES

    options = {param.name: param for param in _command(path).params}
    assert "threads" in options and "threads" in RANGES
    assert options["threads"].opts == ["--threads"]


def test_threads_is_set_before_the_command_runs(capsys, monkeypatch):
    assert _run(capsys, "pretrain", "--threads", "3", "--views", "nope") == 2  # bad input after the option
    assert torch.get_num_threads() == 3


def test_a_sweeps_jobs_share_the_cores(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    assert _run(capsys, "sweep", "crop-scale", "0.5", "--views", "nope", "--jobs", "2", "--out",
                str(tmp_path / "r.csv")) == 2
    assert torch.get_num_threads() == 2 and threads.per_process(2) == 2


def test_mi_estimate_of_a_source_defaults_to_one_thread(capsys, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    assert _run(capsys, "mi-estimate", "--source", "gaussian", "--estimators", "ksg", "--mi", "0",
                "--ksg-samples", "50", "--quiet") == 0
    assert torch.get_num_threads() == 1
    assert _run(capsys, "mi-estimate", "--source", "gaussian", "--estimators", "ksg", "--mi", "0",
                "--ksg-samples", "50", "--quiet", "--threads", "2") == 0
    assert torch.get_num_threads() == 2


def test_the_first_progress_row_shows_the_threads():
    torch.set_num_threads(2)
    progress = Progress(ThreadsColumn())
    first, second = progress.add_task("epochs"), progress.add_task("steps")
    column = ThreadsColumn()
    assert column.render(progress.tasks[first]).plain == "2 threads"
    assert column.render(progress.tasks[second]).plain == ""


@pytest.mark.slow
def test_the_cli_asks_for_passive_waiting_before_any_command_loads_torch():
    import subprocess

    probe = ("import sys; import infomin_cli.runtime.threads as t; quiet = t.quiet_waiting\n"
             "t.quiet_waiting = lambda: print('torch' in sys.modules) or quiet()\n"
             "import infomin_cli.cli, os; print('torch' in sys.modules, os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    asked, _, policy = out.split()  # (whether the start loads torch depends on the catalog's cache: tests/test_cli_catalog.py)
    assert asked == "False" and policy == "PASSIVE"  # asked before torch is loaded
