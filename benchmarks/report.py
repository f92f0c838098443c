"""Write one benchmark's section of benchmarks/RESULTS.md, leaving the other sections alone.

Each benchmark owns the text between `<!-- BEGIN name -->` and `<!-- END name -->`; the machine it
ran on is stamped into its section so numbers from different machines are never mixed up.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nEach section is written by the benchmark named in it; rerun it to refresh.\n"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}, torch threads {torch.get_num_threads()}"


def write_section(name: str, body: str, command: str) -> None:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- BEGIN {name} -->\n## {name}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}  \nRun: {stamp}, commit {commit}\n\n{body.strip()}\n"
        f"<!-- END {name} -->"
    )
    with open(RESULTS, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read() or HEADER
        pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
        text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        handle.seek(0)
        handle.truncate()
        handle.write(text)
