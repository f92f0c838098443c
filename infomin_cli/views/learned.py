"""Learned views (paper B.5): channel 0 vs channels 1-2 of a frozen generator g from `infomin learn-views`.

The images go through the same crop + flip and colour conversion as `colorspace-split` (the space
the learner started from), then through the frozen g, on the batch's device; only the split space
is learned. Knob `generator` names a learn-views folder, optionally `@EPOCH` for a point of its
trajectory (epoch 0 is g before training: the raw colour-space split). The value is stored pinned
to the epoch (`folder@N`), so a config hash names one generator even if the learner trains on.

When a contrastive run starts, the generator is copied into its folder (`view-generator.pt`), and
probes rebuild the views from that copy: the run folder alone is enough, wherever the learner went.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infomin_cli.atomic import atomic_torch_save
from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.run_files import CONFIG, damaged, load_state, read_checkpoint, read_config
from infomin_cli.views.base import Knob, KnobValue, ViewFamily, register_family
from infomin_cli.views.colorspace_split import CROP_SCALE, ColorSpaceSplit
from infomin_cli.views.colorspaces import SPACES
from infomin_cli.views.flow import COUPLINGS, MAX_BLOCKS, FlowGenerator, saved_epochs, snapshot_path

LEARNER_OBJECTIVE = "learn-views"
RUN_COPY = "view-generator.pt"  # the generator a contrastive run trained with, inside its folder
HINT = "pass the --out folder of `infomin learn-views`, optionally FOLDER@EPOCH"


@dataclass(frozen=True)
class GeneratorSpec:
    """What builds g: where it came from, its coupling, depth, starting space and weights."""

    source: str
    flow: str
    blocks: int
    space: str
    state: dict[str, torch.Tensor]

    def build(self) -> FlowGenerator:
        flow = FlowGenerator(self.flow, self.blocks)
        flow.load_state_dict(self.state)
        return flow.eval().requires_grad_(False)


def _split_epoch(value: str) -> tuple[Path, int | None]:
    folder, at, epoch = value.rpartition("@")
    if not at:
        return Path(value), None
    if not epoch.isdigit():
        raise InfominError(f"knob generator={value!r}: the part after @ must be an epoch number; {HINT}")
    return Path(folder), int(epoch)


def _way_out(folder: Path) -> str:
    return f"train the view learner again (`infomin learn-views --out {folder}`), or pass another --knob generator"


def _learner_config(folder: Path) -> RunConfig:
    path = folder / CONFIG
    if not path.is_file():
        raise InfominError(f"{folder} is not a view learner (no {CONFIG} there); {HINT}")
    config = read_config(path, _way_out(folder))
    if config.objective != LEARNER_OBJECTIVE:
        raise InfominError(f"{folder} is not a view learner (its objective is {config.objective!r}); {HINT}")
    return config


def resolve_generator(value: str) -> str:
    """The knob's check: the folder is a view learner with a saved g at that epoch -> 'folder@epoch'."""
    folder, epoch = _split_epoch(value)
    _learner_config(folder)
    epochs = saved_epochs(folder)
    if not epochs:
        raise InfominError(f"{folder} has no saved generator yet; train it with `infomin learn-views --out {folder}`")
    if epoch is None:
        epoch = epochs[-1]
    if epoch not in epochs:
        raise InfominError(f"{folder} has no generator at epoch {epoch}; saved epochs: {', '.join(map(str, epochs))}")
    return f"{folder}@{epoch}"


def _checked(spec: GeneratorSpec, shape_from: Path, weights_from: Path, way_out: str) -> GeneratorSpec:
    """A spec that builds g: a known coupling, block count and colour space (said by `shape_from`),
    and weights of that shape (`weights_from`)."""
    if spec.flow not in COUPLINGS:
        raise damaged(shape_from, f"coupling {spec.flow!r} is not one of {', '.join(COUPLINGS.names())}", way_out)
    if spec.space not in SPACES:
        raise damaged(shape_from, f"colour space {spec.space!r} is not one of {', '.join(SPACES)}", way_out)
    if not 1 <= spec.blocks <= MAX_BLOCKS:
        raise damaged(shape_from, f"{spec.blocks} coupling blocks, not 1 to {MAX_BLOCKS}", way_out)
    what = f"generator ({spec.flow}, {spec.blocks} blocks)"
    load_state(FlowGenerator(spec.flow, spec.blocks), spec.state, weights_from, what, way_out)
    return spec


def read_generator(value: str) -> GeneratorSpec:
    """g at a point of a learner's trajectory: its shape from the learner's config.yaml (the method's
    options), its weights from generators/epoch-NNNN.pt; a file that does not fit is one line."""
    folder, epoch = _split_epoch(resolve_generator(value))
    config, way_out = _learner_config(folder), _way_out(folder)
    path = snapshot_path(folder, epoch)
    options = config.methods.get(LEARNER_OBJECTIVE, {})
    try:
        flow, blocks = str(options.get("flow", "vp")), int(options.get("flow_blocks", 3))
    except (TypeError, ValueError):
        raise damaged(folder / CONFIG, f"flow_blocks {options.get('flow_blocks')!r} is not a number", way_out) from None
    state = read_checkpoint(path, ("flow",), way_out)
    spec = GeneratorSpec(f"{folder}@{epoch}", flow, blocks, str(config.knobs.get("space", "rgb")), state["flow"])
    return _checked(spec, folder / CONFIG, path, way_out)


GENERATOR = Knob(
    name="generator",
    kind="text",
    default="",
    section="B.5",
    help="a learn-views folder, optionally FOLDER@EPOCH (a point of its trajectory; default its last)",
    check=resolve_generator,
)


class LearnedViews:
    channels = (1, 2)
    shared_encoder = False

    def __init__(self, spec: GeneratorSpec, image_size: int, crop_scale: float) -> None:
        self.spec = spec
        self.split = ColorSpaceSplit(space=spec.space, image_size=image_size, crop_scale=crop_scale)
        self.flow = spec.build()

    @torch.no_grad()
    def _through_g(self, halves: tuple[torch.Tensor, torch.Tensor] | list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat(list(halves), dim=1)
        self.flow.to(x.device)
        y = self.flow(x)
        return y[:, :1].contiguous(), y[:, 1:].contiguous()

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self._through_g(self.split(images, generator))

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        return list(self._through_g(self.split.probe_inputs(images)))

    def save_to(self, folder: Path) -> None:
        spec = self.spec
        atomic_torch_save(Path(folder) / RUN_COPY, {"source": spec.source, "flow": spec.flow, "blocks": spec.blocks,
                                                    "space": spec.space, "state": spec.state})


def build(values: dict[str, KnobValue], image_size: int) -> LearnedViews:
    if not values.get("generator"):
        raise InfominError(f"learned views need --knob generator=FOLDER; {HINT}")
    return LearnedViews(read_generator(str(values["generator"])), image_size, float(values["crop-scale"]))


def from_run(folder: Path, knobs: Mapping[str, Any], image_size: int) -> LearnedViews:
    """The views of a finished contrastive run, from the generator copy in its folder."""
    path = Path(folder) / RUN_COPY
    if not path.is_file():
        raise InfominError(f"{folder} has no {RUN_COPY}; it was not trained with --views learned by `infomin pretrain`")
    way_out = f"train the run in {folder} again with `infomin pretrain --views learned`"
    saved = read_checkpoint(path, ("source", "flow", "blocks", "space", "state"), way_out)
    try:
        spec = GeneratorSpec(str(saved["source"]), str(saved["flow"]), int(saved["blocks"]), str(saved["space"]),
                             saved["state"])
    except (TypeError, ValueError):
        raise damaged(path, f"its block count {saved['blocks']!r} is not a number", way_out) from None
    return LearnedViews(_checked(spec, path, path, way_out), image_size, float(knobs.get("crop-scale", CROP_SCALE.default)))


register_family(
    ViewFamily(
        name="learned",
        summary="channel 0 vs 1-2 of a frozen invertible generator from `infomin learn-views`, after the crop + flip",
        section="B.5",
        knobs=(GENERATOR, CROP_SCALE),
        build=build,
        from_run=from_run,
    )
)
