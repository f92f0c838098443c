"""The one training loop, for every objective: batches from a source, views on the device, a step.

Kept flat on purpose (nanoGPT style). What differs between methods lives in the objective module
(objectives/): the loop only asks it for a loss, steps the optimiser, and calls its after-step
hook. Every epoch ends with an atomic checkpoint of model, objective state (queue, banks, key
encoder), optimiser, schedule and generator, so `--resume` continues bit for bit.

The held-out I_NCE and the probes are not the trainer's business: `pipeline.py` composes
pretrain -> held-out estimate -> probe.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

from infomin_cli import __version__
from infomin_cli.atomic import atomic_torch_save, atomic_write_text
from infomin_cli.config import RunConfig
from infomin_cli.data.source import BatchSource, InMemorySource
from infomin_cli.engine.device import make_generator
from infomin_cli.engine.monitor import EpochLog
from infomin_cli.engine.run import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    SUMMARY,
    Built,
    build,
    build_objective,
    load_checkpoint,
    validate,
)
from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.objectives.base import Objective, StepOutput
from infomin_cli.progress import make_progress
from infomin_cli.views import VIEWS

LOG_EVERY = 20  # steps between host syncs for the progress bar and the NaN check


def make_optimizer(config: RunConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.sgd_momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)


def make_optimizers(config: RunConfig, objective: Objective, model: torch.nn.Module) -> dict[str, torch.optim.Optimizer]:
    """The objective's own named optimisers, or the one every single-player method trains with."""
    return objective.optimizers(model, config) or {"main": make_optimizer(config, objective.param_groups(model))}


def cosine_schedules(optimizers: dict[str, torch.optim.Optimizer], total: int) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
    return {name: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
            for name, opt in optimizers.items()}


def train_step(objective: Objective, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
               schedules: dict[str, torch.optim.lr_scheduler.LRScheduler], source: BatchSource, views,
               generator: torch.Generator, index: torch.Tensor) -> StepOutput:
    """One optimisation step of any objective; the benchmark times exactly this function."""
    images = source.batch(index)
    out = objective.step(model, images, views, generator, index, optimizers)
    for schedule in schedules.values():
        schedule.step()
    objective.after_step(model)
    return out


def optimizer_state(optimizers: dict[str, torch.optim.Optimizer],
                    schedules: dict[str, torch.optim.lr_scheduler.LRScheduler]) -> dict[str, Any]:
    """Checkpoint entries: a single optimiser under the keys every earlier checkpoint used."""
    if list(optimizers) == ["main"]:
        return {"optimizer": optimizers["main"].state_dict(), "schedule": schedules["main"].state_dict()}
    return {"optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "schedules": {n: s.state_dict() for n, s in schedules.items()}}


def load_optimizer_state(state: dict[str, Any], optimizers: dict[str, torch.optim.Optimizer],
                         schedules: dict[str, torch.optim.lr_scheduler.LRScheduler]) -> None:
    if "optimizers" not in state:
        state = {"optimizers": {"main": state["optimizer"]}, "schedules": {"main": state["schedule"]}}
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
        schedules[name].load_state_dict(state["schedules"][name])


def _check_out_dir(out: Path, config: RunConfig, resume: bool) -> dict[str, Any] | None:
    """Refuse to overwrite a different run; with resume, hand back the checkpoint to continue."""
    if out.exists() and not out.is_dir():
        raise InfominError(f"--out {out} is a file, not a run folder; choose another --out")
    if not (out / CHECKPOINT).exists():
        return None
    if not resume:
        raise InfominError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    saved = RunConfig.load(out / CONFIG)
    if saved.hash() != config.hash():
        raise InfominError(f"{out} holds a run with a different config (hash {saved.hash()}); choose another --out")
    return load_checkpoint(out / CHECKPOINT)


def pretrain(
    config: RunConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool | Progress = True,
    console: Console | None = None,
    built: Built | None = None,
) -> dict[str, Any]:
    """Train (or continue) the run in `out_dir`; returns the training summary (also summary.json).

    `built` lets a caller that already loaded the data (a sweep point) hand it in."""
    config = validate(config)
    out = Path(out_dir)
    state = _check_out_dir(out, config, resume)
    console = console or Console(stderr=True)
    built = built or build(config)
    device, size, views, model = built.device, built.image_size, built.views, built.model
    source = InMemorySource(built.dataset.pretrain.subset(config.limit), device)  # moved once
    n, batch = len(source), config.batch_size
    repeats = VIEWS.get(config.views).pairs_per_image(source.shape[-2], source.shape[-1], size)
    steps = n * repeats // batch
    if steps == 0:
        raise InfominError(f"--batch-size {batch} is larger than the {n * repeats} view pairs of an epoch; lower it")
    objective = build_objective(config, built, n).to(device)
    optimizers = make_optimizers(config, objective, model)
    schedules = cosine_schedules(optimizers, steps * config.epochs)
    generator = make_generator(device, config.seed)
    start_epoch, wall_before = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        objective.load_state_dict(state.get("objective", {}))
        load_optimizer_state(state, optimizers, schedules)
        generator.set_state(state["generator"].to(generator.get_state().device))
        start_epoch, wall_before = state["epoch"], state.get("wall_seconds", 0.0)
        if start_epoch >= config.epochs and (out / SUMMARY).is_file():
            return json.loads((out / SUMMARY).read_text())
    else:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / CONFIG)
        (out / METRICS).unlink(missing_ok=True)
        objective.snapshot(out, 0)
        if hasattr(views, "save_to"):  # views that read files (learned views) keep a copy with the run
            views.save_to(out)
    log = EpochLog(out, config, built, console, resume=state is not None, extra=objective.metric_names)

    owns_progress = not isinstance(progress, Progress)
    bar = make_progress(console) if owns_progress else progress
    if owns_progress and not progress:
        bar.disable = True
    started = time.perf_counter()
    last = {"loss": float("nan"), "i_nce": float("nan"), "k": objective.train_k()}
    with bar if owns_progress else contextlib.nullcontext():
        epoch_task = bar.add_task(f"{out.name} epochs", total=config.epochs, completed=start_epoch, stats="")
        step_task = bar.add_task("  steps", total=steps, stats="")
        for epoch in range(start_epoch, config.epochs):
            model.train()
            bar.reset(step_task, total=steps)
            perm = torch.randperm(n * repeats, device=device, generator=generator) % n
            loss_sum = torch.zeros((), device=device)
            i_nce_sum = torch.zeros((), device=device)  # the objective's own I_NCE (not log K - loss with JigSaw or NCE)
            t0, seen = time.perf_counter(), 0
            for step in range(steps):
                index = perm[step * batch : (step + 1) * batch]
                result = train_step(objective, model, optimizers, schedules, source, views, generator, index)
                loss_sum += result.loss.detach()
                i_nce_sum += result.i_nce
                seen += batch
                if (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
                    mean_loss = float(loss_sum) / (step + 1)
                    if not math.isfinite(mean_loss):
                        raise TrainingDiverged(
                            f"loss became {mean_loss} at epoch {epoch + 1} step {step + 1}; the last good checkpoint "
                            f"(epoch {epoch}) is kept in {out}; lower --lr or raise --temperature"
                        )
                    rate = seen / (time.perf_counter() - t0)
                    last = {"loss": mean_loss, "i_nce": float(i_nce_sum) / (step + 1), "k": result.k}
                    bar.update(step_task, completed=step + 1,
                               stats=f"loss {mean_loss:.3f}  I_NCE {last['i_nce']:.3f}/{math.log(result.k):.2f}  {rate:,.0f} img/s")
            elapsed = time.perf_counter() - t0
            extra = objective.epoch_metrics()
            objective.snapshot(out, epoch + 1)
            atomic_torch_save(out / CHECKPOINT, {
                "model": model.state_dict(), "objective": objective.state_dict(), **optimizer_state(optimizers, schedules),
                "generator": generator.get_state(), "epoch": epoch + 1,
                "wall_seconds": wall_before + time.perf_counter() - started, "config_hash": config.hash(),
            })
            lr = next(iter(schedules.values())).get_last_lr()[0]
            line = log.epoch(epoch + 1, model, last["loss"], last["i_nce"], last["k"], seen / elapsed, lr, extra)
            bar.update(epoch_task, completed=epoch + 1, stats=line)
            if not bar.disable and not console.is_terminal:
                console.print(f"epoch {epoch + 1}/{config.epochs} {line}")
        if not owns_progress:
            bar.remove_task(step_task)
            bar.remove_task(epoch_task)
    log.close()

    if state is not None and start_epoch >= config.epochs:  # finished earlier, summary lost: last epoch's row
        last.update(log.last_row())
    summary = {
        "run_id": out.name,
        "config_hash": config.hash(),
        "dataset": config.dataset,
        "views": config.views,
        "knobs": config.knobs,
        "encoder": config.encoder,
        "objective": config.objective,
        "K_train": objective.train_k(),
        "log_K_train": math.log(objective.train_k()),
        "loss": last["loss"],
        "i_nce_train": last["i_nce"],
        "knn_top1": log.knn_last,
        "epochs": config.epochs,
        "image_size": size,
        "device": str(device),
        "wall_seconds": wall_before + time.perf_counter() - started,
        "infomin_version": __version__,
    }
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
    return summary
