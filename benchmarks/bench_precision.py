"""The trainer's step at --precision bf16 against fp32, on this machine (the CPU, where no GPU is).

`auto` is fp32 on the CPU; this says what `--precision bf16` costs or gains there. Each row is the
trainer's own `train_step` (views, objective, Adam) of one model, both precisions built from the
same config and interleaved in one run, best of the repeats, so whatever else the machine does
falls on both alike. Rows: the demo's config (`--preset demo`: lab-split, ConvNet, batch 128, 32 px)
and the same with a ResNet-18 at 64 px.

    OMP_NUM_THREADS=1 python -m benchmarks.bench_precision [--steps 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from benchmarks.bench_pretrain_step import _rate, full_step
from benchmarks.report import write_section
from infomin_cli.config import resolve_config
from infomin_cli.runtime.device import pick_device

MODELS = {
    "demo ConvNet, 32 px": {},
    "ResNet-18, 64 px": {"encoder": "resnet18", "image_size": 64},
}


def bf16_flags() -> str:
    """The CPU's bf16 instruction sets (what makes bf16 autocast fast or slow on it), from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return ", ".join(sorted({f for f in flags if "bf16" in f})) or "none"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    rows, load = [], os.getloadavg()[0]
    for label, extra in MODELS.items():
        steps = {p: full_step(resolve_config("demo", {**extra, "batch_size": args.batch_size, "device": args.device,
                                                      "precision": p}))
                 for p in ("fp32", "bf16")}
        best = {p: 0.0 for p in steps}
        for _ in range(args.repeats):
            for p, step in steps.items():
                best[p] = max(best[p], _rate(step, args.batch_size, args.steps, device))
        rows.append(f"| {label} | {args.batch_size} | {best['fp32']:,.1f} | {best['bf16']:,.1f} | "
                    f"{best['bf16'] / best['fp32']:.2f}x |")
        print(rows[-1], flush=True)
    body = (f"Images/s of the trainer's `train_step` (lab-split views, in-batch InfoNCE, Adam) on {device.type}, "
            f"fp32 against bf16 autocast, best of {args.repeats} interleaved repeats of {args.steps} steps "
            f"(torch threads: {torch.get_num_threads()}; load average {load:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; the CPU's bf16 instructions: {bf16_flags()}). "
            "`auto` is fp32 here; bf16 is `--precision bf16`.\n\n"
            "| model | batch | fp32 img/s | bf16 img/s | bf16 / fp32 |\n|---|---|---|---|---|\n" + "\n".join(rows))
    write_section(f"precision-{device.type}", body,
                  "python -m benchmarks.bench_precision " + " ".join(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
