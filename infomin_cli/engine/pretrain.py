"""The one training loop, for every objective: batches from a source, views on the device, a step.

Kept flat on purpose (nanoGPT style). What differs between methods lives in the objective module
(objectives/): the loop only asks it for a loss, steps the optimiser, and calls its after-step
hook. Every epoch ends with an atomic checkpoint of model, objective state (queue, banks, key
encoder), optimiser, schedule, generator and the epoch's metrics row, so `--resume` continues bit
for bit and a kill at any instant leaves the epoch whole or absent (see `at_boundary`).

The held-out I_NCE and the probes are not the trainer's business: `pipeline.py` composes
pretrain -> held-out estimate -> probe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

from infomin_cli import __version__
from infomin_cli.atomic import atomic_write_text
from infomin_cli.config import RunConfig
from infomin_cli.data import Dataset
from infomin_cli.data.source import BatchSource, SkipsFiles, epoch_batches, storage_of, training_source
from infomin_cli.engine.monitor import EpochLog
from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.base import Objective, StepOutput
from infomin_cli.paths import check_run_folder
from infomin_cli.progress import make_progress
from infomin_cli.run_files import RESUME_KEYS, damaged, read_checkpoint, read_config, read_summary
from infomin_cli.runs import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    SUMMARY,
    Built,
    build,
    build_views,
    config_hash,
    image_size_of,
    load_data,
    validate,
)
from infomin_cli.runtime import distributed
from infomin_cli.runtime.checkpoint import restore_checkpoint, save_checkpoint
from infomin_cli.runtime.device import make_generator
from infomin_cli.runtime.schedule import cosine
from infomin_cli.views import VIEWS
from infomin_cli.views.base import SavesFiles

BOUNDARIES = ("trained", "measured", "committed", "logged")  # an epoch's writes, in order


def at_boundary(name: str, epoch: int) -> None:
    """A point between an epoch's writes (see BOUNDARIES); does nothing. Tests replace it to stop the
    loop there as a kill would, and read what the folder holds: the checkpoint is the one commit
    (it carries the epoch's metrics row), so whatever the instant, an epoch is whole or absent."""


def _committed_row(state: dict[str, Any], checkpoint: Path) -> dict[str, str] | None:
    """The metrics row the checkpoint committed with its epoch (None in a checkpoint without one)."""
    row = state.get("metrics_row")
    if row is None:
        return None
    if not isinstance(row, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in row.items()):
        raise damaged(checkpoint, "its metrics row is unreadable")
    if row.get("epoch") != str(state["epoch"]):
        raise damaged(checkpoint, f"its metrics row is of epoch {row.get('epoch')!r}, not {state['epoch']}")
    return row


SKIPPED = "skipped_images.tsv"  # unreadable files of a streamed dataset: path, reason
LOG_EVERY = 20  # steps between host syncs for the progress bar and the NaN check


def build_objective(config: RunConfig, built: Built, n_samples: int) -> Objective:
    """The objective module for a validated config; it sees the model (MoCo copies it as the key
    encoder) and how many samples an epoch indexes (the memory bank's size)."""
    return OBJECTIVES.get(config.objective).create(built, config, n_samples)


SMALL_K = 16  # candidates per positive below which the bound log K caps I_NCE near nothing


def cautions(objective: Objective, n_samples: int) -> list[str]:
    """What a run's settings cannot mean, said once before training (a warning, not an error)."""
    k = objective.train_k()
    small = [f"the training K is {k} (log K = {math.log(k):.2f} nats): I_NCE can never exceed that; raise "
             "--batch-size (or the method's negatives)"] if k < SMALL_K else []
    return small + objective.cautions(n_samples)


def make_optimizer(config: RunConfig, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.sgd_momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)


def make_optimizers(config: RunConfig, objective: Objective, model: torch.nn.Module) -> dict[str, torch.optim.Optimizer]:
    """The objective's own named optimisers, or the one every single-player method trains with."""
    return objective.optimizers(model, config) or {"main": make_optimizer(config, objective.param_groups(model))}




def train_step(objective: Objective, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
               schedules: dict[str, torch.optim.lr_scheduler.LRScheduler], source: BatchSource, views,
               generator: torch.Generator, index: torch.Tensor, images: torch.Tensor | None = None,
               forward: Callable[[torch.Tensor, torch.Tensor], StepOutput] | None = None) -> StepOutput:
    """One optimisation step of any objective; the benchmark times exactly this function.

    `images`: the batch when the epoch's reader already fetched it (a streamed epoch).
    `forward`: the DistributedDataParallel-wrapped objective when several processes train."""
    images = source.batch(index) if images is None else images
    out = objective.step(model, images, views, generator, index, optimizers, forward)
    for schedule in schedules.values():
        schedule.step()
    objective.after_step(model)
    return out


def _note_skipped(out: Path, source: BatchSource) -> str:
    """Unreadable files a streaming source skipped so far: listed in the run folder, counted in the log."""
    skipped = source.skipped if isinstance(source, SkipsFiles) else {}
    if not skipped:
        return ""
    atomic_write_text(out / SKIPPED, "".join(f"{path}\t{reason}\n" for path, reason in sorted(skipped.items())))
    return f"  skipped {len(skipped)} unreadable file(s), see {SKIPPED}"


def checkpoint_parts(model: torch.nn.Module, objective: Objective, optimizers: dict[str, torch.optim.Optimizer],
                     schedules: dict[str, torch.optim.lr_scheduler.LRScheduler],
                     generator: torch.Generator) -> dict[str, Any]:
    """What a checkpoint restores together; a single optimiser under the keys every earlier checkpoint used."""
    if list(optimizers) == ["main"]:
        steppers: dict[str, Any] = {"optimizer": optimizers["main"], "schedule": schedules["main"]}
    else:
        steppers = {"optimizers": optimizers, "schedules": schedules}
    return {"model": model, "objective": objective, **steppers, "generator": generator}


def epoch_steps(config: RunConfig, source: BatchSource, size: int) -> tuple[int, int]:
    """View pairs drawn per stored image, and optimisation steps per epoch (an epoch of none is refused)."""
    repeats = VIEWS.get(config.views).pairs_per_image(source.shape[-2], source.shape[-1], size)
    steps = len(source) * repeats // config.batch_size
    if steps == 0:
        raise InfominError(f"--batch-size {config.batch_size} is larger than the {len(source) * repeats} view pairs "
                           "of an epoch; lower it")
    return repeats, steps


def check_trainable(configs: Sequence[RunConfig]) -> Dataset:
    """What `pretrain` refuses about the data and views of runs that share a dataset, before it
    writes a file, asked without a model or a device: a sweep asks it of its points before the
    first point folder exists. Returns the dataset (loaded once)."""
    first = validate(configs[0])
    dataset = load_data(first)
    size = image_size_of(first, dataset)
    source = training_source(dataset.pretrain, first.limit, "cpu")
    for config in configs:
        config = validate(config)
        build_views(config, size)  # a view family that reads files (learned views) reads them now
        epoch_steps(config, source, size)
    return dataset


def _check_out_dir(out: Path, config: RunConfig, resume: bool) -> dict[str, Any] | None:
    """Refuse to overwrite a different run, or files of a run's names that no --resume claims (they
    may be the user's own); with resume, hand back the checkpoint to continue (None: start afresh,
    in a folder whose config.yaml, if any, is this run's)."""
    check_run_folder(out, "--out", resume)
    if not (out / CONFIG).exists() and not (out / CHECKPOINT).exists():
        return None
    saved = read_config(out / CONFIG)
    if config_hash(dataclasses.replace(saved, epochs=config.epochs)) != config_hash(config):
        raise InfominError(f"{out} holds a run with a different config (hash {config_hash(saved)}); continue it with "
                           f"`infomin pretrain --resume {out}` (its own config), or choose another --out")
    if not (out / CHECKPOINT).exists():
        return None
    state = read_checkpoint(out / CHECKPOINT, RESUME_KEYS)
    if saved != config and distributed.ranks().main:  # resumed with more epochs, or on another device
        config.save(out / CONFIG)
    return state


def pretrain(
    config: RunConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool | Progress = True,
    console: Console | None = None,
    built: Built | None = None,
) -> dict[str, Any]:
    """Train (or continue) the run in `out_dir`; returns the training summary (also summary.json).

    `built` lets a caller that already loaded the data (a sweep point) hand it in. Under torchrun
    every rank calls this; `config.batch_size` is the global batch, each rank trains on its shard
    of the epoch's order, and rank 0 alone writes the run folder."""
    config = validate(config)
    out = Path(out_dir)
    distributed.barrier()  # a group already up (a second run in the same processes): rank 0 has written
    state = _check_out_dir(out, config, resume)
    console = console or Console(stderr=True)
    built = built or build(config)
    ranks = distributed.ranks()
    distributed.check_same(state["epoch"] if state is not None else 0, "the checkpoint's epoch", built.device)
    device, size, views, model = built.device, built.image_size, built.views, built.model
    source = training_source(built.dataset.pretrain, config.limit, device)  # in memory: moved once
    n, batch = len(source), config.batch_size
    distributed.check_batch(batch)
    repeats, steps = epoch_steps(config, source, size)
    if config.sync_bn:
        model = distributed.sync_bn(model, device)
    objective = build_objective(config, built, n).to(device)
    if ranks.main and state is None:
        for line in cautions(objective, n):
            console.print(f"warning: {line}", markup=False, highlight=False)
    optimizers = make_optimizers(config, objective, model)
    if ranks.world > 1 and list(optimizers) != ["main"]:
        raise InfominError(f"--objective {config.objective} trains in one process; launch it without torchrun")
    schedules = {name: cosine(optimizer, steps * config.epochs) for name, optimizer in optimizers.items()}
    generator = make_generator(device, config.seed)  # the epochs' order (and, in one process, the views)
    view_generator = generator if ranks.world == 1 else make_generator(device, config.seed)  # reseeded per epoch
    parts = checkpoint_parts(model, objective, optimizers, schedules, generator)
    start_epoch, wall_before = 0, 0.0
    if state is not None:
        checkpoint = out / CHECKPOINT
        state = restore_checkpoint(checkpoint, parts, {"objective": {}, **state})  # (objective state: v0.2 on)
        try:
            wall_before = float(state.get("wall_seconds", 0.0))
        except (TypeError, ValueError) as exc:
            raise damaged(checkpoint, f"its wall time is unreadable: {type(exc).__name__}") from None
        start_epoch = state["epoch"]
        if start_epoch > config.epochs:
            raise InfominError(f"--epochs {config.epochs} is fewer than the {start_epoch} the run in {out} has trained; "
                               f"give at least {start_epoch} (more extends it)")
        summary = read_summary(out / SUMMARY)
        if start_epoch >= config.epochs and summary and summary.get("epochs") == config.epochs:
            return summary
        saved_world = state.get("world_size", 1)
        if saved_world != ranks.world and ranks.main:
            console.print(f"resuming a {saved_world}-process run with {ranks.world}: same global batch, order and "
                          "state; the view draws differ from an uninterrupted run")
    elif ranks.main:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / CONFIG)
        (out / METRICS).unlink(missing_ok=True)
        objective.snapshot(out, 0)
        if isinstance(views, SavesFiles):  # views that read files (learned views) keep a copy with the run
            views.save_to(out)
    log = (EpochLog(out, config, built, console, resume=state is not None, extra=objective.metric_names)
           if ranks.main else None)
    if log is not None and state is not None:
        log.reconcile(start_epoch, _committed_row(state, checkpoint))
    forward = distributed.wrap(objective, model, views, view_generator, device) if ranks.world > 1 else None

    owns_progress = not isinstance(progress, Progress)
    bar = make_progress(console) if owns_progress else progress
    if owns_progress and (not progress or not ranks.main):
        bar.disable = True
    started = time.perf_counter()
    last = {"loss": float("nan"), "i_nce": float("nan"), "k": objective.train_k()}
    with bar if owns_progress else contextlib.nullcontext():
        epoch_task = bar.add_task(f"{out.name} epochs", total=config.epochs, completed=start_epoch, stats="")
        step_task = bar.add_task("  steps", total=steps, stats="")
        for epoch in range(start_epoch, config.epochs):
            model.train()
            bar.reset(step_task, total=steps)
            perm = distributed.broadcast(torch.randperm(n * repeats, device=device, generator=generator) % n)
            if ranks.world > 1:
                view_generator.manual_seed(distributed.view_seed(config.seed, ranks.rank, epoch))
            loss_sum = torch.zeros((), device=device)
            i_nce_sum = torch.zeros((), device=device)  # the objective's own I_NCE (not log K - loss with JigSaw or NCE)
            t0, seen = time.perf_counter(), 0
            local = batch // ranks.world  # this rank's slice of every global batch, read by this rank alone
            mine = perm[: steps * batch].view(steps, ranks.world, local)[:, ranks.rank].reshape(-1)
            batches = epoch_batches(source, mine, local, device, view_generator, views)
            for step, images in enumerate(batches):
                index = mine[step * local : (step + 1) * local]
                result = train_step(objective, model, optimizers, schedules, source, views, view_generator, index,
                                    images, forward)
                loss_sum += result.loss.detach()
                i_nce_sum += result.i_nce
                seen += batch
                if (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
                    mean_loss = float(distributed.mean(loss_sum)) / (step + 1)
                    if not math.isfinite(mean_loss):
                        raise TrainingDiverged(
                            f"loss became {mean_loss} at epoch {epoch + 1} step {step + 1}; the last good checkpoint "
                            f"(epoch {epoch}) is kept in {out}; lower --lr or raise --temperature"
                        )
                    rate = seen / (time.perf_counter() - t0)
                    last = {"loss": mean_loss, "i_nce": float(distributed.mean(i_nce_sum)) / (step + 1), "k": result.k}
                    bar.update(step_task, completed=step + 1,
                               stats=f"loss {mean_loss:.3f}  I_NCE {last['i_nce']:.3f}/{math.log(result.k):.2f}  {rate:,.0f} img/s")
            elapsed = time.perf_counter() - t0
            extra = objective.epoch_metrics()
            if not ranks.main:
                continue
            at_boundary("trained", epoch + 1)
            lr = next(iter(schedules.values())).get_last_lr()[0]
            row = log.measure(epoch + 1, model, last["loss"], last["i_nce"], last["k"], seen / elapsed, lr, extra)
            at_boundary("measured", epoch + 1)
            objective.snapshot(out, epoch + 1)
            save_checkpoint(out / CHECKPOINT, parts, epoch + 1, wall_seconds=wall_before + time.perf_counter() - started,
                            config_hash=config_hash(config), world_size=ranks.world, metrics_row=row,
                            last=dict(last))
            at_boundary("committed", epoch + 1)
            line = log.append(row) + _note_skipped(out, source)
            at_boundary("logged", epoch + 1)
            bar.update(epoch_task, completed=epoch + 1, stats=line)
            if not bar.disable and not console.is_terminal:
                console.print(f"epoch {epoch + 1}/{config.epochs} {line}")
        if not owns_progress:
            bar.remove_task(step_task)
            bar.remove_task(epoch_task)
    if log is not None:
        log.close()
    if state is not None and start_epoch >= config.epochs and log is not None:  # finished, summary lost
        saved = state.get("last")  # the exact floats the summary would have had (the row keeps 6 digits)
        last.update(saved if isinstance(saved, dict) and {"loss", "i_nce"} <= set(saved) else log.last_row())
    summary = {
        "run_id": out.name,
        "config_hash": config_hash(config),
        "dataset": config.dataset,
        "views": config.views,
        "knobs": config.knobs,
        "encoder": config.encoder,
        "objective": config.objective,
        "K_train": objective.train_k(),
        "log_K_train": math.log(objective.train_k()),
        "loss": last["loss"],
        "i_nce_train": last["i_nce"],
        "knn_top1": log.knn_last if log is not None else None,
        "epochs": config.epochs,
        "image_size": size,
        "device": str(device),
        "precision": str(built.precision),
        "wall_seconds": wall_before + time.perf_counter() - started,
        "infomin_version": __version__,
        "world_size": ranks.world,
        "streamed": storage_of(source) == "stream",
        "generated": storage_of(source) == "generated",
        "skipped_images": len(source.skipped) if isinstance(source, SkipsFiles) else 0,
    }
    if ranks.main:
        atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
    return summary
