"""The method seam: an objective is an `nn.Module` that the trainer hands the model and the views.

Everything a method remembers between steps (MoCo's key encoder and queue, CMC's memory banks,
the JigSaw head) is a buffer, parameter or submodule of the objective, so `state_dict()` holds it
and the checkpoint needs no special cases. The trainer's loop stays flat:

    out = objective(model, images, views, generator, index)   # loss, I_NCE, K
    out.loss.backward(); optimizer.step()
    objective.after_step(model)                                 # momentum update, enqueue, bank update

`param_groups(model)` is what the optimiser trains: the model's parameters plus any the objective
owns (a JigSaw head).

A method with several players (learned views: a critic that maximises the bound and a generator
that minimises it) declares its own optimisers with `optimizers(model, config)` and owns the step:
`step(model, images, views, generator, index, optimizers)` runs its updates in its order and returns
the StepOutput the trainer logs. Every other method keeps the default: one optimiser from
`param_groups`, built by the trainer, and the forward / backward / step above. The loop, the
schedules (one cosine per optimiser), the checkpoint, resume and the NaN guard stay the trainer's,
so no method needs a second loop. `epoch_metrics()` adds columns to metrics.csv and the progress
line; `snapshot(folder, epoch)` keeps what a method wants from an epoch (the generator's trajectory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import torch
from torch import nn

from infomin_cli.options import Option, check_options
from infomin_cli.registry import Registry
from infomin_cli.runtime.precision import FP32, Precision, full_precision


@dataclass
class StepOutput:
    loss: torch.Tensor  # scalar, differentiable: what the optimiser minimises
    i_nce: torch.Tensor  # log K - L of the views' contrastive loss (detached; read it when logging)
    k: int  # candidates per positive behind i_nce (batch, queue + 1, or bank negatives + 1)


def make_views(views, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Both views of a uint8 batch, in fp32 whatever autocast region encloses the call (views are
    data, the same at every precision), in channels_last on CUDA (what the encoders are laid out for)."""
    with full_precision(images.device):
        v1, v2 = views(images, generator)
    if images.device.type == "cuda":  # (frame sequences, 5-d, stay as they are: channels_last is 4-d only)
        v1, v2 = (v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v for v in (v1, v2))
    return v1, v2


def i_nce_of(loss: torch.Tensor, k: int) -> torch.Tensor:
    """I_NCE = log K - L: the InfoNCE lower bound, never above log K because L >= 0."""
    return math.log(k) - loss.detach()


class Objective(nn.Module):
    """Base class: subclasses set `summary`, `paper`, `options` and implement `forward`."""

    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    supports_jigsaw: ClassVar[bool] = False
    command: ClassVar[str | None] = None  # a method trained by its own command (learn-views), not by pretrain
    precision: Precision = FP32  # the run's, set by `create`: the region the model's forward passes run in

    @classmethod
    def settings(cls, config: Any) -> SimpleNamespace:
        """The method's own options: the config's namespace for it, defaults filled in, each checked
        against its declaration (a name it does not declare is one line naming its options)."""
        return SimpleNamespace(**check_options(cls.options, config.method_options(), f"--objective {config.objective}"))

    @classmethod
    def check(cls, config: Any, settings: SimpleNamespace, family: Any) -> None:
        """Checks that relate the method's options to the rest of the run (MoCo: the queue holds whole
        batches), before any data is read. Nothing by default."""

    @classmethod
    def create(cls, built: Any, config: Any, n_samples: int) -> Objective:
        """Build from the trainer's `Built` (device, data, views, model, precision)."""
        objective = cls.construct(built, config, n_samples)
        objective.precision = built.precision
        return objective

    @classmethod
    def construct(cls, built: Any, config: Any, n_samples: int) -> Objective:
        """The module itself; a method that needs more than the model and views (learned views: the
        labelled images) overrides this."""
        return cls(built.model, built.views, config, n_samples)

    def autocast(self, device: torch.device) -> AbstractContextManager:
        """The run's precision region for a forward pass on `device` (views stay outside it)."""
        return self.precision.autocast(device)

    def forward(self, model: nn.Module, images: torch.Tensor, views, generator: torch.Generator,
                index: torch.Tensor) -> StepOutput:
        raise NotImplementedError

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        params = [p for p in [*model.parameters(), *self.parameters()] if p.requires_grad]
        return [{"params": params}]

    def optimizers(self, model: nn.Module, config: Any) -> dict[str, torch.optim.Optimizer] | None:
        """Named optimisers of a method that owns its step; None: one from `param_groups`, built by the
        trainer from the config (every single-player method)."""
        return None

    def step(self, model: nn.Module, images: torch.Tensor, views, generator: torch.Generator,
             index: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer],
             forward: Callable[[torch.Tensor, torch.Tensor], StepOutput] | None = None) -> StepOutput:
        """One optimisation step. The default is every single-player method's: loss, backward, step.

        `forward(images, index)`: this objective and the model wrapped in DistributedDataParallel when
        several processes train (runtime/distributed.py); its backward averages the gradients."""
        out = forward(images, index) if forward is not None else self(model, images, views, generator, index)
        (optimizer,) = optimizers.values()
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        return out

    metric_names: ClassVar[tuple[str, ...]] = ()  # extra metrics.csv columns, filled by epoch_metrics

    def epoch_metrics(self) -> dict[str, float | None]:
        """This epoch's values of `metric_names` (and reset them for the next epoch)."""
        return {}

    def snapshot(self, folder: Path, epoch: int) -> None:
        """Keep something of this epoch in the run folder (called at epoch 0 too, before training)."""

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        """State updates that follow the optimiser step (nothing, for a stateless objective)."""

    def train_k(self) -> int:
        """K of the training loss, for summaries and CSV rows."""
        raise NotImplementedError

    def cautions(self, n_samples: int) -> list[str]:
        """Settings of this method that cannot mean what they say for `n_samples` training images (a
        MoCo queue longer than the data), said as warnings when a run starts. Nothing by default."""
        return []


OBJECTIVES: Registry[type[Objective]] = Registry("objective")
