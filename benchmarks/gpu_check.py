"""The GPU check: everything only CUDA runs, in one command, with its figures in RESULTS.md.

    make gpu-check                            # = python -m benchmarks.gpu_check
    python -m benchmarks.gpu_check --dry-run  # every step tiny on the CPU (ConvNet, small folder)

Run it first whenever a GPU is available, and after every change to the CUDA path; it must finish
within 8 minutes on one H100/H200 (issue 21). Steps, in order, each timed; a failure is recorded
with the step's name and the rest still run (a GPU's time is scarce), and the exit code is 1:

1. `pytest tests/test_cuda.py` (nvjpeg, the decoder's stream barrier, bf16 training, views on
   the GPU);
2. `python -m benchmarks.bench_gpu` (views, colour conversion, training steps; its own section);
3. a folder of ImageNet-like JPEGs, written by one process per core (`bench_stream.make_folder`);
4. streamed ResNet-50 InfoNCE at 224 px from that folder, and C.3's recipe (InfoMin Aug. with
   JigSaw, MoCo with a 65,536-key queue, MLP head, temperature 0.15), each 2 epochs of 20 steps at
   batch 256 through the real CLI (`infomin pretrain ... --stream`); img/s of the second epoch
   (warm: cuDNN autotuned, workers running);
5. the same ResNet-50 step on in-memory tensors and the bare encoder (`bench_pretrain_step.measure`),
   so "from files >= 90 % of tensors and of bare" reads off one run;
6. the share of C.3's step that JigSaw's nine tiles cost: its in-memory step with and without them.

GPU utilisation is sampled throughout (nvidia-smi every 200 ms, else torch.cuda.utilization) and
reported per step, and for the streamed runs over their second epoch. The figures go into the
"gpu-check" section of benchmarks/RESULTS.md with the machine, torch version, date and command.
Without CUDA it says so in one line (exit 2) unless --dry-run, which writes nothing there.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 8 * 60
C3 = ("--knob", "level=infomin+jigsaw", "--objective", "moco", "--head", "mlp", "--temperature", "0.15")


@dataclass(frozen=True)
class Scale:
    """What every step runs at: the paper's recipes on a GPU, or a tiny stand-in on a CPU."""

    device: str
    encoder: str
    image_size: int
    batch: int
    steps_per_epoch: int
    queue: int
    measure_steps: int
    dry: bool


GPU = Scale("cuda", "resnet50", 224, 256, 20, 65536, 10, dry=False)
DRY = Scale("cpu", "convnet", 32, 16, 3, 64, 2, dry=True)
EPOCHS = 2


class Utilisation:
    """GPU utilisation samples (time, percent) taken in the background for the whole check."""

    def __init__(self, enabled: bool) -> None:
        self.samples: list[tuple[float, float]] = []
        self.source = "not sampled (dry run)" if not enabled else "none available"
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        if not enabled:
            return
        if shutil.which("nvidia-smi"):
            self.source = "nvidia-smi, every 200 ms"
            # the first visible GPU (what device 'cuda' is), named without initialising CUDA in this
            # process: the JPEG folder is written by forked processes after this
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
            self._process = subprocess.Popen(
                ["nvidia-smi", "-i", visible, "--query-gpu=utilization.gpu",
                 "--format=csv,noheader,nounits", "-lms", "200"], stdout=subprocess.PIPE, text=True)
            threading.Thread(target=self._read_smi, daemon=True).start()
        else:
            try:
                torch.cuda.utilization()
            except Exception:  # noqa: BLE001 - pynvml missing or no NVML: say so in the report
                return
            self.source = "torch.cuda.utilization, every 200 ms"
            threading.Thread(target=self._poll_torch, daemon=True).start()

    def _read_smi(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                self.samples.append((time.monotonic(), float(line.strip())))
            except ValueError:
                continue

    def _poll_torch(self) -> None:
        while not self._stop.wait(0.2):
            self.samples.append((time.monotonic(), float(torch.cuda.utilization())))

    def mean(self, start: float, stop: float) -> float | None:
        inside = [value for t, value in self.samples if start <= t <= stop]
        return sum(inside) / len(inside) if inside else None

    def close(self) -> None:
        self._stop.set()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(5)


@dataclass
class Check:
    scale: Scale
    work: Path
    utilisation: Utilisation
    started: float = field(default_factory=time.monotonic)
    rows: list[tuple[str, str, float, float | None]] = field(default_factory=list)  # step, outcome, s, util
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def left(self) -> float:
        return BUDGET_SECONDS - (time.monotonic() - self.started)

    def step(self, name: str, run: Callable[[Check], str]) -> None:
        """Run one step; a failure is noted with the step's name and its error in one line."""
        print(f"gpu-check: {name} ...", flush=True)
        start = time.monotonic()
        try:
            outcome = run(self)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, the next step still runs
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            outcome = f"FAILED: {lines[-1]}"
            self.failures.append(f"{name}: {lines[-1]}")
        stop = time.monotonic()
        self.rows.append((name, outcome, stop - start, self.utilisation.mean(start, stop)))
        print(f"gpu-check: {name}: {outcome} ({stop - start:.0f} s)", flush=True)


def run_command(check: Check, args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """A subprocess within what is left of the budget; its last stderr line is the error."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=max(check.left(), 1))
    if result.returncode != 0:
        tail = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}").splitlines()
        raise RuntimeError(f"{' '.join(args[:4])} ... exit {result.returncode}: {tail[-1]}")
    return result


def cuda_tests(check: Check) -> str:
    result = run_command(check, [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_cuda.py"])
    return result.stdout.strip().splitlines()[-1].strip("= ")


def bench_gpu(check: Check) -> str:
    if check.scale.dry:
        run_command(check, [sys.executable, "-m", "benchmarks.bench_gpu", "--help"])
        return "needs CUDA: its arguments parse (--help)"
    run_command(check, [sys.executable, "-m", "benchmarks.bench_gpu"])
    return "ran; figures in its own section (gpu)"


def jpeg_folder(check: Check) -> str:
    from benchmarks.bench_stream import make_folder

    n = check.scale.batch * check.scale.steps_per_epoch
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    start = time.monotonic()
    files = make_folder(check.work / "photos" / "train", n, workers=workers)
    seconds = time.monotonic() - start
    for path in files[:: max(1, n // 40)]:  # a small val split: the CLI's folder layout needs one
        target = check.work / "photos" / "val" / Path(path).parent.name / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    check.figures["folder_files"], check.figures["folder_seconds"] = n, seconds
    return f"{n:,} JPEGs in {seconds:.1f} s with {workers} processes"


def streamed(name: str, extra: tuple[str, ...]) -> Callable[[Check], str]:
    def run(check: Check) -> str:
        s = check.scale
        out = check.work / "runs" / name
        args = [sys.executable, "-m", "infomin_cli", "pretrain", "--dataset", "imagefolder", "--data-root",
                str(check.work / "photos"), "--stream", "--views", "infomin-aug", "--encoder", s.encoder,
                "--image-size", str(s.image_size), "--batch-size", str(s.batch), "--epochs", str(EPOCHS),
                "--no-knn-monitor", "--quiet", "--device", s.device, "--out", str(out), *extra]
        if "moco" in extra:
            args += ["--queue", str(s.queue)]
        rows: list[float] = []  # monotonic time at which each epoch's row appeared
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        metrics = out / "metrics.csv"
        deadline = time.monotonic() + check.left()
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("over the 8-minute budget")
            if metrics.is_file():
                count = max(0, len(metrics.read_text().splitlines()) - 1)
                rows += [time.monotonic()] * (count - len(rows))
            time.sleep(0.1)
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"exit {process.returncode}: {(stderr.strip().splitlines() or ['?'])[-1]}")
        with open(metrics) as handle:
            rates = [float(row["images_per_second"]) for row in csv.DictReader(handle)]
        summary = json.loads((out / "summary.json").read_text())
        if not math.isfinite(summary["loss"]):
            raise RuntimeError(f"loss {summary['loss']}")
        check.figures[f"{name}_epoch1"], check.figures[f"{name}_epoch2"] = rates[0], rates[-1]
        util = check.utilisation.mean(rows[0], rows[1]) if len(rows) >= 2 else None
        if util is not None:
            check.figures[f"{name}_util"] = util
        return (f"{EPOCHS} x {s.steps_per_epoch} steps: {rates[-1]:,.0f} img/s in epoch 2 ({rates[0]:,.0f} in epoch 1), "
                f"loss {summary['loss']:.3f}" + (f", GPU busy {util:.0f} % in epoch 2" if util is not None else ""))

    return run


def _config(scale: Scale, **extra: object):
    from infomin_cli.config import RunConfig

    return RunConfig(dataset="embedded", views="infomin-aug", encoder=scale.encoder, image_size=scale.image_size,
                     batch_size=scale.batch, device=scale.device, knn_monitor=False).merged(extra)


def in_memory(check: Check) -> str:
    from benchmarks.bench_pretrain_step import measure

    rates = measure(_config(check.scale), check.scale.measure_steps)
    check.figures["tensors"], check.figures["bare"] = rates["full"], rates["bare"]
    return f"full step on tensors {rates['full']:,.0f} img/s, bare encoder {rates['bare']:,.0f} img/s"


def jigsaw_share(check: Check) -> str:
    from benchmarks.bench_pretrain_step import _rate, full_step

    s = check.scale
    device = torch.device(s.device)
    recipe = {"objective": "moco", "queue": s.queue, "head": "mlp", "temperature": 0.15}
    rates = {}
    for level in ("infomin+jigsaw", "infomin"):
        step = full_step(_config(s, knobs={"level": level}, **recipe))
        rates[level] = _rate(step, s.batch, s.measure_steps, device)
        del step
        if device.type == "cuda":
            torch.cuda.empty_cache()
    share = 1 - rates["infomin+jigsaw"] / rates["infomin"]
    check.figures["c3_tensors"], check.figures["c3_no_jigsaw"], check.figures["jigsaw_share"] = (
        rates["infomin+jigsaw"], rates["infomin"], share)
    return (f"C.3 step on tensors {rates['infomin+jigsaw']:,.0f} img/s, without the tiles {rates['infomin']:,.0f}: "
            f"JigSaw is {share:.0%} of the step")


STEPS: list[tuple[str, Callable[[Check], str]]] = [
    ("CUDA tests", cuda_tests),
    ("bench_gpu", bench_gpu),
    ("JPEG folder", jpeg_folder),
    ("streamed InfoNCE", streamed("infonce", ())),
    ("streamed C.3 recipe", streamed("c3", C3)),
    ("InfoMin step on tensors, bare encoder", in_memory),
    ("JigSaw's share of C.3's step", jigsaw_share),
]


def report(check: Check) -> str:
    s, f = check.scale, check.figures
    lines = [
        f"torch {torch.__version__}, torchvision {_torchvision_version()}; {s.encoder} at {s.image_size} px, batch "
        f"{s.batch}; streamed runs: {EPOCHS} epochs x {s.steps_per_epoch} steps from {int(f.get('folder_files', 0)):,} "
        f"generated JPEGs of about 500x375; utilisation: {check.utilisation.source}. Total "
        f"{time.monotonic() - check.started:.0f} s (budget {BUDGET_SECONDS} s).",
        "",
        "| step | outcome | s | GPU busy (mean %) |",
        "|---|---|---:|---:|",
        *[f"| {name} | {outcome} | {seconds:.0f} | {'' if util is None else f'{util:.0f}'} |"
          for name, outcome, seconds, util in check.rows],
        "",
    ]
    files, tensors, bare = f.get("infonce_epoch2"), f.get("tensors"), f.get("bare")
    if s.dry:
        lines.append("- Dry run: the steps work; the targets below apply to the GPU run only, so none is read here.")
    elif files and tensors and bare:
        lines += [
            f"- From files / on tensors (ResNet-50 InfoMin step): {files / tensors:.0%} — "
            f"{'met' if files >= 0.9 * tensors else 'NOT met'} (target >= 90 %).",
            f"- From files / bare encoder: {files / bare:.0%} — {'met' if files >= 0.9 * bare else 'NOT met'} "
            "(target >= 90 %).",
            f"- From files: {files:,.0f} img/s — {'met' if files >= 2500 else 'NOT met'} (target >= 2,500).",
        ]
    if "infonce_util" in f and not s.dry:
        lines.append(f"- GPU busy during the streamed InfoNCE run's second epoch: {f['infonce_util']:.0f} % — "
                     f"{'met' if f['infonce_util'] >= 85 else 'NOT met'} (target >= 85 %).")
    if "c3_epoch2" in f and not s.dry:
        lines.append(f"- C.3's recipe from files: {f['c3_epoch2']:,.0f} img/s"
                     + (f"; JigSaw's nine tiles are {f['jigsaw_share']:.0%} of its step (on tensors)."
                        if "jigsaw_share" in f else "."))
    if check.failures:
        lines.append("- Failed: " + "; ".join(check.failures) + ".")
    return "\n".join(lines + check.notes)


def _torchvision_version() -> str:
    import torchvision

    return torchvision.__version__


def run_steps(check: Check, steps: list[tuple[str, Callable[[Check], str]]]) -> None:
    for name, run in steps:
        if check.left() <= 0:
            check.failures.append(f"{name}: not run, the 8-minute budget was spent")
            check.rows.append((name, "not run: over budget", 0.0, None))
            continue
        check.step(name, run)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="every step tiny on the CPU (ConvNet, small folder); RESULTS.md left alone")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible; run it on a machine with a GPU (--dry-run runs every step tiny on "
              "this CPU)", file=sys.stderr)
        sys.exit(2)
    scale = DRY if args.dry_run else GPU
    command = "python -m benchmarks.gpu_check" + (" --dry-run" if args.dry_run else "")
    utilisation = Utilisation(enabled=not scale.dry)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        check = Check(scale, Path(work), utilisation)
        try:
            run_steps(check, STEPS)
        finally:
            utilisation.close()
    body = report(check)
    print(body)
    if not scale.dry:
        from benchmarks.report import write_section

        write_section("gpu-check", body, command)
    if check.failures:
        print(f"gpu-check FAILED: {'; '.join(check.failures)}", file=sys.stderr)
        sys.exit(1)
    print(f"gpu-check passed in {time.monotonic() - check.started:.0f} s")


if __name__ == "__main__":
    main()
