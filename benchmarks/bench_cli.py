"""How fast the CLI answers when it has nothing to compute: `--help`, a command's `--help`, and a
mistyped name, against the cost of loading torch, measured in the same run.

    python -m benchmarks.bench_cli [--rounds 5]

Each command runs in a fresh process (`python -m infomin_cli ...`), the cases interleaved round by
round so the machine's load falls on all of them; the table gives the median and the range of the
wall time from start to exit. The references: `python -c pass` (the interpreter alone) and
`python -c "import torch"` (what any command that computes pays first). The CLI's catalog
(commands/_catalog.py) is cached in a private $INFOMIN_CACHE, built once before the rounds; "cold
catalog" is `--help` with an empty cache, what the first call after an install or an edit pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write_section

CLI = [sys.executable, "-m", "infomin_cli"]
# name -> (command, the exit code it must end with)
CASES: dict[str, tuple[list[str], int]] = {
    "python -c pass": ([sys.executable, "-c", "pass"], 0),
    'python -c "import torch"': ([sys.executable, "-c", "import torch"], 0),
    "infomin --help": ([*CLI, "--help"], 0),
    "infomin pretrain --help": ([*CLI, "pretrain", "--help"], 0),
    "infomin pretrain --views nosuch": ([*CLI, "pretrain", "--views", "nosuch"], 2),
    "infomin pretrain --preset nosuch": ([*CLI, "pretrain", "--preset", "nosuch"], 2),
    "infomin --help, cold catalog": ([*CLI, "--help"], 0),
}


def _time(command: list[str], code: int, cache: Path) -> float:
    env = {**os.environ, "INFOMIN_CACHE": str(cache), "COLUMNS": "120"}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != code:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, not {code}: {done.stderr.strip()[-300:]}")
    return wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        _time([*CLI, "--help"], 0, warm)  # builds the catalog once
        for round_ in range(args.rounds):
            for name, (command, code) in CASES.items():
                cache = Path(tmp) / f"cold-{round_}" if "cold" in name else warm
                times[name].append(_time(command, code, cache))
            print({name: f"{values[-1]:.2f}" for name, values in times.items()}, flush=True)
    torch_cost = statistics.median(times['python -c "import torch"'])
    rows = "\n".join(f"| `{name}` | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} | "
                     f"{statistics.median(values) / torch_cost:.2f} |" for name, values in times.items())
    body = (
        f"Wall time of a fresh process, start to exit, {args.rounds} interleaved rounds; load = 1-min load "
        f"average {load_before:.1f} before → {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores. "
        "The catalog of the registries is cached (built once before the rounds) except in the last row. "
        "Targets (issue 24): `--help` under 1 s, a mistyped name under 2 s.\n\n"
        "| command | median (s) | range (s) | ÷ import torch |\n|---|---|---|---|\n" + rows
    )
    write_section("cli", body, "python -m benchmarks.bench_cli " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
