"""Learned views (paper B.5, main paper §4.2): a two-player game over an invertible generator g.

The images are crop-resized and flipped (one box per sample) and converted to the starting colour
space exactly as `colorspace-split` does; g (views/flow.py) maps the 3 channels to 3 new ones, and
view 1 = channel 0 of g(x), view 2 = channels 1-2, as in the colour-space splits. Each step:

1. critic step: the two encoders and heads (the I_NCE approximator, the trainer's `model`) update
   on the *detached* views to maximise the in-batch InfoNCE bound (minimise L_NCE);
2. generator step: g minimises the same bound through the just-updated critic (unsupervised,
   semi-supervised), and in semi-supervised and supervised mode also minimises the cross-entropy of
   one classifier per view on a labelled batch (the classifiers update in the same step).

Modes: `unsupervised` (bound only; the paper warns it is unstable like a GAN), `semi-supervised`
(bound + classifiers) and `supervised` (classifiers only: the paper's labels-only comparison; the
critic still trains, so I_NCE of the views is measured in every mode). In unsupervised mode the
classifiers still train, on detached views, as a monitor of how much label information the views
keep; they never reach g.

Optimisers (the method owns its step, objectives/base.py): Adam for the critic at `--lr` (the
paper's 6e-4 for the I_NCE approximator) and Adam for g at `--generator-lr` (2e-4), the classifiers
in g's optimiser at the critic's rate. Betas (0.5, 0.999) as in the authors' GenRep code; the paper
says only "Adam". The paper's text calls for the generator's rate to be *larger* than the
approximator's yet gives 2e-4 < 6e-4; we follow the numbers (the issue's spec).

g is saved into `generators/epoch-NNNN.pt` at epoch 0 (before training), every `--save-every`
epochs and at the last epoch: the trajectory that `--knob generator=FOLDER@EPOCH` revisits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomin_cli.atomic import atomic_torch_save
from infomin_cli.errors import InfominError
from infomin_cli.models.base import ENCODERS
from infomin_cli.objectives.base import OBJECTIVES, Objective, StepOutput
from infomin_cli.objectives.infonce import info_nce
from infomin_cli.options import Option
from infomin_cli.ranges import EPOCHS, Range
from infomin_cli.runtime.precision import full_precision
from infomin_cli.views.flow import COUPLINGS, MAX_BLOCKS, FlowGenerator, snapshot_path

MODES = ("unsupervised", "semi-supervised", "supervised")
COUPLING_NAMES = tuple(COUPLINGS.names())
LABEL = "class"
BETAS = (0.5, 0.999)  # GenRep's Adam betas (GAN practice); the paper says only "Adam"

def colour_input(views, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The cropped, converted, normalised 3-channel image that g maps (both halves of the split), in
    fp32 like every view."""
    with full_precision(images.device):
        v1, v2 = views(images, generator)
    return torch.cat([v1, v2], dim=1)


def split(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return y[:, :1].contiguous(), y[:, 1:].contiguous()


class ViewClassifier(nn.Module):
    """A classifier on one view: an encoder of the run's kind and a linear layer."""

    def __init__(self, encoder: str, channels: int, n_classes: int) -> None:
        super().__init__()
        self.encoder = ENCODERS.get(encoder)(channels)
        self.fc = nn.Linear(self.encoder.out_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.encoder(x))


@OBJECTIVES.register("learn-views")
class ViewLearner(Objective):
    summary = ("two-player view learning: a critic maximises I_NCE(v1; v2) of an invertible generator's views, "
               "the generator minimises it (+ per-view classifiers with labels); run by `infomin learn-views`")
    paper = "InfoMin B.5, main paper §4.2"
    options = (
        Option("flow", "vp", "coupling of g: vp (additive, log-det 0) or nvp (affine, bounded scale)", choices=COUPLING_NAMES),
        Option("flow_blocks", 3, "coupling blocks of g; X1 is channel 0, 1, 2, 0, ... in turn", Range(1, MAX_BLOCKS), paper=3,
               flag="--blocks"),
        Option("view_mode", "semi-supervised", "unsupervised, semi-supervised or supervised (classifiers only)",
               choices=MODES, flag="--mode"),
        Option("labelled", 0.1, "fraction of the labelled train split the classifiers see",
               Range(0, 1, low_open=True, hint="e.g. 0.1"), paper=0.1),
        Option("generator_lr", 2e-4, "Adam learning rate of g (the critic's is --lr)", Range(0, low_open=True), paper=2e-4),
        Option("save_every", 2, "keep g every N epochs (and at epoch 0 and the last)", EPOCHS),
    )
    metric_names = ("acc_v1", "acc_v2")
    command = "learn-views"

    @classmethod
    def check(cls, config: Any, settings: Any, family: Any) -> None:
        """Its views are a colour-space split that g re-mixes."""
        if "colorspace-split" not in (family.name, family.aliases_of):
            raise InfominError(f"learn-views starts from a colour-space split, not --views {config.views}; "
                               "pass --from SPACE (e.g. rgb, ydbdr)")

    def __init__(self, model: nn.Module, views, config: Any, n_samples: int,
                 labelled: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        super().__init__()
        if labelled is None:
            raise InfominError("learned views need labelled images; build the objective from a run (Objective.create)")
        self.images_l, self.labels_l = labelled
        settings = self.settings(config)
        self.mode, self.temperature, self.batch_size = settings.view_mode, config.temperature, config.batch_size
        self.save_every, self.epochs = settings.save_every, config.epochs
        self.flow = FlowGenerator(settings.flow, settings.flow_blocks)
        n_classes = int(self.labels_l.max()) + 1
        self.classifiers = nn.ModuleList([ViewClassifier(config.encoder, c, n_classes) for c in (1, 2)])
        self._correct: torch.Tensor | None = None
        self._seen = 0

    @classmethod
    def construct(cls, built: Any, config: Any, n_samples: int) -> ViewLearner:
        train = built.dataset.train
        if LABEL not in train.labels:
            raise InfominError(f"dataset {config.dataset} has no {LABEL!r} labels for the view classifiers; "
                               "learn views on a labelled dataset (embedded, stl10, cifar10)")
        n = max(1, round(cls.settings(config).labelled * len(train)))
        labelled = (train.images[:n].to(built.device), train.labels[LABEL][:n].to(built.device))
        return cls(built.model, built.views, config, n_samples, labelled)

    def optimizers(self, model: nn.Module, config: Any) -> dict[str, torch.optim.Optimizer]:
        critic = torch.optim.Adam(model.parameters(), lr=config.lr, betas=BETAS)
        generator = torch.optim.Adam([
            {"params": self.flow.parameters(), "lr": self.settings(config).generator_lr},
            {"params": self.classifiers.parameters(), "lr": config.lr},
        ], betas=BETAS)
        return {"critic": critic, "generator": generator}

    def forward(self, model, images, views, generator, index) -> StepOutput:
        """The bound on g's views (with gradient to g and the critic)."""
        v1, v2 = split(self.flow(colour_input(views, images, generator)))
        with self.autocast(images.device):
            z1, z2 = model(v1, v2)
        return info_nce(z1, z2, self.temperature)

    def step(self, model, images, views, generator, index, optimizers, forward=None) -> StepOutput:
        critic, gen = optimizers["critic"], optimizers["generator"]
        v1, v2 = split(self.flow(colour_input(views, images, generator)))

        with self.autocast(images.device):  # 1. the critic maximises the bound on detached views
            z1, z2 = model(v1.detach(), v2.detach())
        bound = info_nce(z1, z2, self.temperature)
        critic.zero_grad(set_to_none=True)
        bound.loss.backward()
        critic.step()

        gen.zero_grad(set_to_none=True)  # 2. the generator minimises it (+ classifiers with labels)
        loss = torch.zeros((), device=images.device)
        if self.mode != "supervised":
            with self.autocast(images.device):
                z1, z2 = model(v1, v2)
            loss = loss - info_nce(z1, z2, self.temperature).loss  # min I_NCE = max L_NCE
        pick = torch.randint(0, len(self.images_l), (max(2, self.batch_size // 2),), device=images.device,
                             generator=generator)
        y_l = self.flow(colour_input(views, self.images_l[pick], generator))
        if self.mode == "unsupervised":
            y_l = y_l.detach()  # the classifiers only watch
        labels = self.labels_l[pick]
        with self.autocast(images.device):
            logits = [clf(v) for clf, v in zip(self.classifiers, split(y_l), strict=True)]
        loss = loss + sum(F.cross_entropy(lg.float(), labels) for lg in logits)
        loss.backward(inputs=[p for g in gen.param_groups for p in g["params"]])
        gen.step()

        correct = torch.stack([(lg.argmax(1) == labels).sum() for lg in logits]).detach()
        self._correct = correct if self._correct is None else self._correct + correct
        self._seen += len(labels)
        # the logged loss is the critic's; a non-finite generator loss still trips the NaN guard
        return StepOutput(bound.loss.detach() + 0.0 * loss.detach(), bound.i_nce, bound.k)

    def epoch_metrics(self) -> dict[str, float | None]:
        if self._correct is None or self._seen == 0:
            return {name: None for name in self.metric_names}
        acc = (100.0 * self._correct.float() / self._seen).tolist()
        self._correct, self._seen = None, 0
        return dict(zip(self.metric_names, acc, strict=True))

    def snapshot(self, folder: Path, epoch: int) -> None:
        if epoch == 0 or epoch % self.save_every == 0 or epoch == self.epochs:
            atomic_torch_save(snapshot_path(folder, epoch), {"flow": self.flow.state_dict(), "epoch": epoch})

    def train_k(self) -> int:
        return self.batch_size
