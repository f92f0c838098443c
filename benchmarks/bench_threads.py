"""A 1-epoch demo pretraining with OMP_NUM_THREADS unset: the library at torch's defaults against
the CLI, which sets the threads itself (runtime/threads.py), in one run.

    python -m benchmarks.bench_threads [--rounds 2]      # OMP_NUM_THREADS and OMP_WAIT_POLICY unset

"Before" is `train_run` called from Python with torch as it starts (its default threads, OpenMP's
default waiting), i.e. `infomin pretrain` as it was before the CLI chose threads; "after" is
`infomin pretrain --preset demo --limit 2048 --epochs 1`; "one thread" the same with
OMP_NUM_THREADS=1. Each in a fresh process with the same
config, the two interleaved round by round so the machine's load falls on both; the load average
is read before and after every run. Rate: the trainer's own images/s of the epoch (metrics.csv);
wall: the process from start to exit, imports and the held-out estimate included.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write_section
from infomin_cli.runtime import threads

ARGS = ["--preset", "demo", "--limit", "2048", "--epochs", "1"]
BEFORE = """
import sys, torch
from infomin_cli.config import resolve_config
from infomin_cli.pipeline import train_run
train_run(resolve_config("demo", {"limit": 2048, "epochs": 1}, "embedded"), sys.argv[1], progress=False)
print(torch.get_num_threads(), file=sys.stderr)
"""


KINDS = ("before", "after", "one thread")


def _run(kind: str, out: Path) -> dict[str, float | str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    if kind == "one thread":  # the advice the Makefile used to carry out: OMP_NUM_THREADS=1
        env["OMP_NUM_THREADS"] = "1"
    command = ([sys.executable, "-c", BEFORE, str(out)] if kind == "before" else
               [sys.executable, "-m", "infomin_cli", "pretrain", *ARGS, "--out", str(out), "--quiet"])
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    torch_threads = {"before": done.stderr.strip().splitlines()[-1] if kind == "before" else "",
                     "after": str(threads.cores()), "one thread": "1"}[kind]  # "after" sees no OMP_NUM_THREADS
    with open(out / "metrics.csv") as handle:
        rate = float(next(csv.DictReader(handle))["images_per_second"])
    summary = json.loads((out / "summary.json").read_text())
    return {"kind": kind, "threads": torch_threads, "rate": rate, "wall": wall, "train": float(summary["wall_seconds"]),
            "load": f"{load:.1f} → {os.getloadavg()[0]:.1f}"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for kind in KINDS:
                runs.append({"round": round_ + 1, **_run(kind, Path(tmp) / f"{kind}-{round_}")})
                print(runs[-1], flush=True)
    rows = "\n".join(f"| {r['round']} | {r['kind']} | {r['threads']} | {r['rate']:,.0f} | {r['train']:.1f} | "
                     f"{r['wall']:.1f} | {r['load']} |" for r in runs)
    median = {kind: statistics.median(r["rate"] for r in runs if r["kind"] == kind) for kind in KINDS}
    body = (
        f"OMP_NUM_THREADS and OMP_WAIT_POLICY unset. before = `train_run` from Python at torch's defaults "
        f"(its default threads, OpenMP's default waiting); after = `infomin pretrain {' '.join(ARGS)}`, which "
        f"sets the threads (the cores it may use: {threads.cores()}) and passive OpenMP waiting. Interleaved, "
        f"{args.rounds} round(s); \"one thread\" is `infomin pretrain` with OMP_NUM_THREADS=1, what this "
        f"project's test runs set for this reason. load = 1-min load average before → after each run, on {os.cpu_count()} "
        "cores. Where the CLI's threads equal torch's default, the difference between before and after is "
        "OpenMP's waiting: spinning threads wait for siblings that other processes' load deschedules.\n\n"
        "| round | | torch threads | images/s (trainer) | training (s) | process wall (s) | load |\n"
        "|---|---|---|---|---|---|---|\n"
        f"{rows}\n\nMedian: before {median['before']:,.0f} img/s, after {median['after']:,.0f} img/s "
        f"({median['after'] / median['before']:.1f}x), one thread {median['one thread']:,.0f} img/s."
    )
    write_section("threads", body, "python -m benchmarks.bench_threads " + " ".join(argv or sys.argv[1:]))


if __name__ == "__main__":
    main()
