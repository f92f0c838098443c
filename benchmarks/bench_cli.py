"""How fast the CLI answers when it has nothing to compute: `--help`, a command's `--help`, and a
mistyped name, against the cost of loading torch, measured in the same run.

    python -m benchmarks.bench_cli [--rounds 5] [--before REV]

Each command runs in a fresh process (`python -m infomin_cli ...`), the cases interleaved round by
round so the machine's load falls on all of them; the table gives the median and the range of the
wall time from start to exit. The references: `python -c pass` (the interpreter alone) and
`python -c "import torch"` (what any command that computes pays first). The CLI's catalog
(commands/_catalog.py) is cached in a private $INFOMIN_CACHE, built once before the rounds; "cold
catalog" is `--help` with an empty cache, what the first call after an install or an edit pays.
`--before REV` also runs the CLI's cases on the package as it was at git revision REV (extracted
with `git archive` into a temporary folder, put first on PYTHONPATH), in the same rounds.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchmarks.report import write_section
from infomin_cli.config import RunConfig

CLI = [sys.executable, "-m", "infomin_cli"]
# name -> (command, the exit code it must end with)
CASES: dict[str, tuple[list[str], int]] = {
    "python -c pass": ([sys.executable, "-c", "pass"], 0),
    'python -c "import torch"': ([sys.executable, "-c", "import torch"], 0),
    "infomin --help": ([*CLI, "--help"], 0),
    "infomin pretrain --help": ([*CLI, "pretrain", "--help"], 0),
    "infomin pretrain --views nosuch": ([*CLI, "pretrain", "--views", "nosuch"], 2),
    "infomin pretrain --preset nosuch": ([*CLI, "pretrain", "--preset", "nosuch"], 2),
    "infomin sweep crop-scale 0.5 --views nosuch": ([*CLI, "sweep", "crop-scale", "0.5", "--views", "nosuch"], 2),
    "infomin probe RUN --label nosuch": ([*CLI, "probe", "run", "--label", "nosuch", "--results", "r.csv"], 2),
    "infomin --help, cold catalog": ([*CLI, "--help"], 0),
}
# RUN is a folder holding only a run's config.yaml: enough for the label check, which needs no more;
# the CLI before it loaded the run first, which a folder without a checkpoint refuses sooner than a run
NOT_BEFORE = ("infomin probe RUN --label nosuch", "infomin --help, cold catalog")


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time(command: list[str], code: int, cache: Path, package: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `command`."""
    env = {**os.environ, "INFOMIN_CACHE": str(cache), "COLUMNS": "120"}
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(package), *filter(None, [os.environ.get("PYTHONPATH")])])
    start, cpu = time.perf_counter(), _cpu()
    # run outside the repository: `python -m` puts the working folder first on sys.path
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=cache.parent)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    if done.returncode != code:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, not {code}: {done.stderr.strip()[-300:]}")
    return wall, cpu


def _extract(rev: str, into: Path) -> Path:
    """The package's files at git revision `rev`, under `into`."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "archive", rev, "infomin_cli"], cwd=root, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also time the CLI's cases at this git revision")
    args = parser.parse_args(argv)
    cases = dict(CASES)
    if args.before:
        cases.update({f"{name} (at {args.before})": case for name, case in CASES.items()
                      if name.startswith("infomin") and name not in NOT_BEFORE})
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        (Path(tmp) / "run").mkdir()
        RunConfig(dataset="embedded").save(Path(tmp) / "run" / "config.yaml")
        _time([*CLI, "--help"], 0, warm)  # builds the catalog once
        old = _extract(args.before, Path(tmp) / "before") if args.before else None
        if old is not None:
            _time([*CLI, "--help"], 0, warm, old)  # compiles its modules once, as an install has
        for round_ in range(args.rounds):
            for name, (command, code) in cases.items():
                cache = Path(tmp) / f"cold-{round_}" if "cold" in name else warm
                times[name].append(_time(command, code, cache, old if "(at " in name else None))
            print({name: f"{values[-1][0]:.2f}" for name, values in times.items()}, flush=True)
    torch_cost = statistics.median(wall for wall, _ in times['python -c "import torch"'])

    def row(name: str, runs: list[tuple[float, float]]) -> str:
        walls = [wall for wall, _ in runs]
        return (f"| `{name}` | {statistics.median(walls):.2f} | {min(walls):.2f}–{max(walls):.2f} | "
                f"{statistics.median(cpu for _, cpu in runs):.2f} | {statistics.median(walls) / torch_cost:.2f} |")

    rows = "\n".join(row(name, runs) for name, runs in times.items())
    body = (
        f"Wall time of a fresh process, start to exit, {args.rounds} interleaved rounds; load = 1-min load "
        f"average {load_before:.1f} before → {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores. "
        "The catalog of the registries is cached (built once before the rounds) except in the last row. "
        "Targets (issue 24): `--help` under 1 s, a mistyped name under 2 s.\n\n"
        "CPU: user + system time of the process, which the machine's load changes less than the wall time.\n\n"
        "| command | wall, median (s) | wall, range (s) | CPU, median (s) | wall ÷ import torch |\n"
        "|---|---|---|---|---|\n" + rows
    )
    write_section("cli", body, "python -m benchmarks.bench_cli " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
