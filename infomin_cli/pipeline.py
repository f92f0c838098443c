"""A run end to end: pretrain -> held-out I_NCE, on data loaded once.

The layers run one way: the engine trains and knows nothing of estimators, `mi/` estimates,
`evaluate/` probes, and this module (used by `infomin pretrain` and by every sweep point) wires
them together. The held-out estimate goes into summary.json beside the training numbers, each
with its own K: a MoCo run trains against K = queue + 1 but is measured on the held-out split
against the batch (or `--negatives` held-out keys).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import Progress

from infomin_cli.atomic import atomic_write_text
from infomin_cli.config import RunConfig
from infomin_cli.data.base import Dataset, ImageSet
from infomin_cli.engine.pretrain import check_trainable, pretrain
from infomin_cli.errors import InfominError
from infomin_cli.mi.heldout import heldout_estimate
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.runs import SUMMARY, Built, LoadedRun, build, validate
from infomin_cli.runtime import distributed
from infomin_cli.views import VIEWS

LOADED_RUN = "_run"  # key under which train_run hands its loaded run to an in-process caller


def heldout_fields(config: RunConfig, built: Built) -> dict[str, Any]:
    """Held-out I_NCE of the trained model on the test split (in-batch, K = batch), as summary fields."""
    test = built.dataset.test
    if isinstance(test, ImageSet):
        test = test.images
        repeats = VIEWS.get(config.views).pairs_per_image(test.shape[-2], test.shape[-1], built.image_size)
        if repeats > 1:  # as in training: several view pairs per stored image
            test = test[torch.arange(len(test) * repeats) % len(test)]
    # a streamed test split is read through its source, one view pair per stored item
    estimate = heldout_estimate(built.model, built.views, test, min(config.batch_size, len(test)),
                                config.temperature, built.device, seed=config.seed + 1, precision=built.precision)
    return {"K": estimate.K, "log_K": estimate.log_k, "i_nce": estimate.value,
            "i_nce_ci": [estimate.ci_low, estimate.ci_high], "i_nce_batches": estimate.n_batches,
            "i_nce_saturated": estimate.saturated}


def check_method(config: RunConfig) -> None:
    """A method trained by a command of its own (learn-views) is not a run of this pipeline."""
    command = OBJECTIVES.get(config.objective).command
    if command:
        raise InfominError(f"--objective {config.objective} is trained by `infomin {command}`, not by pretrain or sweep")


def check_runs(configs: Sequence[RunConfig]) -> Dataset:
    """What `train_run` would refuse about runs that share a dataset, asked before any run folder
    exists (a sweep, of its points still to run); returns their dataset, loaded once."""
    for config in configs:
        check_method(validate(config))
    return check_trainable(configs)


def train_run(config: RunConfig, out_dir: str | Path, resume: bool = False, progress: bool | Progress = True,
              console: Console | None = None) -> dict[str, Any]:
    """Pretrain (or resume) and add the held-out estimate to summary.json; returns the summary.

    The returned dict also carries the loaded run under `LOADED_RUN` (not written to disk), so a
    caller in the same process can probe without loading the dataset again."""
    config = validate(config)
    check_method(config)
    built = build(config)
    summary = pretrain(config, out_dir, resume=resume, progress=progress, console=console, built=built)
    if not distributed.ranks().main:  # under torchrun, rank 0 alone measures and writes
        return summary
    if "i_nce" not in summary or not math.isfinite(summary.get("i_nce") or math.nan):
        summary.update(heldout_fields(config, built))
        atomic_write_text(Path(out_dir) / SUMMARY, json.dumps(summary, indent=2))
    run = LoadedRun(Path(out_dir), config, built.dataset, built.views, built.model.eval(), built.device,
                    built.image_size, summary, trained=True, precision=built.precision)
    return {**summary, LOADED_RUN: run}
