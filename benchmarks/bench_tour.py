"""The README's five-command tour, each command timed as a user would run it.

    python -m benchmarks.bench_tour        # OMP_NUM_THREADS=1 unless set; the embedded data cached first

The commands are read from the README's "A five-command tour" block, so the times written there and
here are of the same commands. They run one after another in a new temporary folder, each a fresh
process (`python -m infomin_cli`, imports included); wall = process start to exit. The embedded
data is generated into the cache before the first timing, so no command pays for it. The load
average before and after each command says how much the machine was shared.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write_section

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands(text: str) -> list[list[str]]:
    """The argument lists (after `infomin`) of the tour's block."""
    block = re.search(r"## A five-command tour\n+```bash\n(.*?)```", text, flags=re.S)
    if block is None:
        raise SystemExit("README.md has no '## A five-command tour' bash block")
    return [shlex.split(line, comments=True)[1:] for line in block.group(1).splitlines() if line.strip()]


def main() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    from infomin_cli.data import load_dataset

    load_dataset("embedded", None, None)  # into the cache: the first generation is not part of the tour
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for args in tour_commands(README.read_text()):
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "infomin_cli", *args], cwd=folder, env=env, check=True,
                           capture_output=True, text=True)
            wall = time.perf_counter() - start
            rows.append(f"| `infomin {' '.join(args)}` | {wall:.1f} | {load:.1f} → {os.getloadavg()[0]:.1f} |")
            print(rows[-1], flush=True)
    body = (f"The README's tour, in order, in a new folder; OMP_NUM_THREADS={env['OMP_NUM_THREADS']}; the embedded "
            f"data cached beforehand. wall = the process from start to exit; load = 1-min load average before → "
            f"after, on {os.cpu_count()} cores.\n\n| command | wall (s) | load |\n|---|---|---|\n" + "\n".join(rows))
    write_section("tour", body, "python -m benchmarks.bench_tour")


if __name__ == "__main__":
    main()
