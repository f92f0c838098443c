"""The method seam: an objective is an `nn.Module` that the trainer hands the model and the views.

Everything a method remembers between steps (MoCo's key encoder and queue, CMC's memory banks,
the JigSaw head) is a buffer, parameter or submodule of the objective, so `state_dict()` holds it
and the checkpoint needs no special cases. The trainer's loop stays flat:

    out = objective(model, images, views, generator, index)   # loss, I_NCE, K
    out.loss.backward(); optimizer.step()
    objective.after_step(model)                                 # momentum update, enqueue, bank update

`param_groups(model)` is what the optimiser trains: the model's parameters plus any the objective
owns (a JigSaw head); a method with two players (learned views) can return groups with their own
learning rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from infomin_cli.registry import Registry


@dataclass
class StepOutput:
    loss: torch.Tensor  # scalar, differentiable: what the optimiser minimises
    i_nce: torch.Tensor  # log K - L of the views' contrastive loss (detached; read it when logging)
    k: int  # candidates per positive behind i_nce (batch, queue + 1, or bank negatives + 1)


@dataclass(frozen=True)
class Option:
    """One objective option as `infomin objectives` lists it (the CLI flag is --NAME)."""

    name: str
    default: Any
    help: str


def make_views(views, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Both views of a uint8 batch, in channels_last on CUDA (what the encoders are laid out for)."""
    v1, v2 = views(images, generator)
    if images.device.type == "cuda":
        v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
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

    def forward(self, model: nn.Module, images: torch.Tensor, views, generator: torch.Generator,
                index: torch.Tensor) -> StepOutput:
        raise NotImplementedError

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        params = [p for p in [*model.parameters(), *self.parameters()] if p.requires_grad]
        return [{"params": params}]

    @torch.no_grad()
    def after_step(self, model: nn.Module) -> None:
        """State updates that follow the optimiser step (nothing, for a stateless objective)."""

    def train_k(self) -> int:
        """K of the training loss, for summaries and CSV rows."""
        raise NotImplementedError


OBJECTIVES: Registry[type[Objective]] = Registry("objective")
