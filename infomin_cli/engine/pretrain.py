"""The one training loop: views on the device, encoders + heads, InfoNCE, checkpoint every epoch.

Kept flat on purpose (nanoGPT style). The dataset sits on the device as one uint8 tensor; each step
indexes a batch, builds both views there, and reports loss, I_NCE and images/s.
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
from infomin_cli.config import RunConfig
from infomin_cli.atomic import atomic_torch_save, atomic_write_text
from infomin_cli.engine.device import autocast, make_generator
from infomin_cli.engine.run import CHECKPOINT, CONFIG, METRICS, SUMMARY, build, validate
from infomin_cli.errors import InfominError, TrainingDiverged
from infomin_cli.mi.heldout import heldout_estimate
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.progress import make_progress
from infomin_cli.views import VIEWS

LOG_EVERY = 20  # steps between host syncs for the progress bar and the NaN check



def _optimizer(config: RunConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def _check_out_dir(out: Path, config: RunConfig, resume: bool) -> dict[str, Any] | None:
    """Refuse to overwrite a different run; with resume, hand back the checkpoint to continue."""
    if not (out / CHECKPOINT).exists():
        return None
    if not resume:
        raise InfominError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    saved = RunConfig.load(out / CONFIG)
    if saved.hash() != config.hash():
        raise InfominError(f"{out} holds a run with a different config (hash {saved.hash()}); choose another --out")
    return torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)


def pretrain(
    config: RunConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool | Progress = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train (or continue) the run in `out_dir`; returns the summary also written to summary.json."""
    config = validate(config)
    out = Path(out_dir)
    state = _check_out_dir(out, config, resume)
    if state is not None and (out / SUMMARY).is_file() and state["epoch"] >= config.epochs:
        return json.loads((out / SUMMARY).read_text())

    console = console or Console(stderr=True)
    built = build(config)
    device, dataset, size, views, model = built.device, built.dataset, built.image_size, built.views, built.model
    objective = OBJECTIVES.get(config.objective)
    images = dataset.pretrain.subset(config.limit).images.to(device)  # moved once
    n, batch = len(images), config.batch_size
    repeats = VIEWS.get(config.views).pairs_per_image(images.shape[-2], images.shape[-1], size)
    steps = n * repeats // batch
    if steps == 0:
        raise InfominError(f"--batch-size {batch} is larger than the {n * repeats} view pairs of an epoch; lower it")
    optimizer = _optimizer(config, model.parameters())
    total = steps * config.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    generator = make_generator(device, config.seed)
    start_epoch, wall_before = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"].to(generator.get_state().device))
        start_epoch, wall_before = state["epoch"], state.get("wall_seconds", 0.0)
    else:
        out.mkdir(parents=True, exist_ok=True)
        config.save(out / CONFIG)
        (out / METRICS).unlink(missing_ok=True)

    owns_progress = not isinstance(progress, Progress)
    bar = make_progress(console) if owns_progress else progress
    if owns_progress and not progress:
        bar.disable = True
    started = time.perf_counter()
    last = {"loss": float("nan"), "i_nce": float("nan")}
    with bar if owns_progress else contextlib.nullcontext():
        epoch_task = bar.add_task(f"{out.name} epochs", total=config.epochs, completed=start_epoch, stats="")
        step_task = bar.add_task("  steps", total=steps, stats="")
        for epoch in range(start_epoch, config.epochs):
            model.train()
            bar.reset(step_task, total=steps)
            perm = torch.randperm(n * repeats, device=device, generator=generator) % n
            loss_sum = torch.zeros((), device=device)
            t0, seen = time.perf_counter(), 0
            for step in range(steps):
                batch_images = images[perm[step * batch : (step + 1) * batch]]
                v1, v2 = views(batch_images, generator)
                if device.type == "cuda":
                    v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
                with autocast(device):
                    z1, z2 = model(v1, v2)
                result = objective(z1, z2, config.temperature)
                optimizer.zero_grad(set_to_none=True)
                result.loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum += result.loss.detach()
                seen += batch
                if (step + 1) % LOG_EVERY == 0 or step + 1 == steps:
                    mean_loss = float(loss_sum) / (step + 1)
                    if not math.isfinite(mean_loss):
                        raise TrainingDiverged(
                            f"loss became {mean_loss} at epoch {epoch + 1} step {step + 1}; the last good checkpoint "
                            f"(epoch {epoch}) is kept in {out}; lower --lr or raise --temperature"
                        )
                    rate = seen / (time.perf_counter() - t0)
                    last = {"loss": mean_loss, "i_nce": math.log(result.k) - mean_loss}
                    bar.update(step_task, completed=step + 1,
                               stats=f"loss {mean_loss:.3f}  I_NCE {last['i_nce']:.3f}/{math.log(result.k):.2f}  {rate:,.0f} img/s")
            elapsed = time.perf_counter() - t0
            atomic_torch_save(out / CHECKPOINT, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "generator": generator.get_state(), "epoch": epoch + 1,
                "wall_seconds": wall_before + time.perf_counter() - started, "config_hash": config.hash(),
            })
            with open(out / METRICS, "a") as handle:
                if epoch == 0:
                    handle.write("epoch,loss,i_nce,images_per_second,lr\n")
                handle.write(f"{epoch + 1},{last['loss']:.6f},{last['i_nce']:.6f},{seen / elapsed:.1f},{schedule.get_last_lr()[0]:.6g}\n")
            bar.update(epoch_task, completed=epoch + 1, stats=f"loss {last['loss']:.3f}  I_NCE {last['i_nce']:.3f}")
            if not bar.disable and not console.is_terminal:
                console.print(f"epoch {epoch + 1}/{config.epochs} loss {last['loss']:.4f} I_NCE {last['i_nce']:.4f} "
                              f"{seen / elapsed:,.0f} img/s")
        if not owns_progress:
            bar.remove_task(step_task)
            bar.remove_task(epoch_task)

    if state is not None and start_epoch >= config.epochs:  # finished earlier, summary lost: last epoch's row
        *_, row = (out / METRICS).read_text().strip().splitlines()
        last = {"loss": float(row.split(",")[1]), "i_nce": float(row.split(",")[2])}
    test_images = dataset.test.images
    if repeats > 1:  # as in training: several view pairs per stored image
        test_images = test_images[torch.arange(len(test_images) * repeats) % len(test_images)]
    batch_held = min(batch, len(test_images))
    heldout = heldout_estimate(model, views, test_images, batch_held, config.temperature, device, seed=config.seed + 1)
    summary = {
        "run_id": out.name,
        "config_hash": config.hash(),
        "dataset": config.dataset,
        "views": config.views,
        "knobs": config.knobs,
        "encoder": config.encoder,
        "K": heldout.K,
        "log_K": heldout.log_k,
        "loss": last["loss"],
        "i_nce_train": last["i_nce"],
        "i_nce": heldout.value,
        "i_nce_ci": [heldout.ci_low, heldout.ci_high],
        "i_nce_batches": heldout.n_batches,
        "i_nce_saturated": heldout.saturated,
        "epochs": config.epochs,
        "image_size": size,
        "device": str(device),
        "wall_seconds": wall_before + time.perf_counter() - started,
        "infomin_version": __version__,
    }
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2))
    return summary

