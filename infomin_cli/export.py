"""`infomin export`: hand a trained backbone to torchvision or Detectron2 (paper C.4/D's detection).

Only the encoder leaves the run (no projection head, no MoCo key encoder, no JigSaw heads), under
the names the target library expects:

- `torchvision`: a state_dict for `torchvision.models.resnet{18,50}`. Checked before it is
  written, as MoCo's `main_lincls.py` checks: loading it non-strictly leaves exactly `fc.weight`
  and `fc.bias` missing and nothing unexpected.
- `detectron2`: a pickle `{"model": {name: numpy array}, "__author__": "infomin",
  "matching_heuristics": True}` with Detectron2's ResNet names, renamed as MoCo's
  `detection/convert-pretrain-to-detectron2.py` does (stem.*, res2..res5, convK.norm, shortcut,
  shortcut.norm). BN's `num_batches_tracked` counters are left out (Detectron2's frozen BN has none).

Split encoders (CMC: one encoder per view, e.g. L and ab) are written as two files, `<out>-view1`
and `<out>-view2` with the same suffix: each is a whole backbone with its own first conv (1 or 2
input channels). Detectron2's ResNet takes RGB, so a split run is refused there in one line.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from infomin_cli.atomic import atomic_torch_save, atomic_write_bytes
from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.models import ContrastiveModel, build_model
from infomin_cli.models.resnet import ResNet
from infomin_cli.paths import check_output_file
from infomin_cli.registry import Registry
from infomin_cli.results.table import is_results_file
from infomin_cli.run_files import check_not_a_run_file, read_checkpoint, read_config
from infomin_cli.runs import CHECKPOINT, CONFIG, build_views

TORCHVISION_STEM = {"stages.stem.0.": "conv1.", "stages.stem.1.": "bn1."}
ONLY_MISSING = {"fc.weight", "fc.bias"}


@dataclass(frozen=True)
class Format:
    suffix: str  # what the docs and --out examples use
    summary: str
    write: Callable[[list[dict[str, torch.Tensor]], list[ResNet], list[Path]], None]  # (states, encoders, files)


FORMATS: Registry[Format] = Registry("export format")


def load_encoders(folder: Path) -> tuple[RunConfig, ContrastiveModel]:
    """The run's model with its trained weights, without reading any data."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise InfominError(f"{folder} is not a run folder (no {CONFIG}); pass the --out folder of `infomin pretrain`")
    if not (folder / CHECKPOINT).is_file():
        raise InfominError(f"{folder} has no {CHECKPOINT} yet; train it with `infomin pretrain --out {folder}`")
    config = read_config(folder / CONFIG)
    views = build_views(config, int(config.image_size or 224))
    model = build_model(config, views.channels, views.shared_encoder)
    state = read_checkpoint(folder / CHECKPOINT)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        raise InfominError(f"{folder / CHECKPOINT} does not match {folder / CONFIG} ({type(exc).__name__}); "
                           "it belongs to another run") from None
    return config, model.eval()


def torchvision_state(encoder: ResNet) -> dict[str, torch.Tensor]:
    """Our stage names -> torchvision's: stem.0/stem.1 are conv1/bn1, layer1..4 keep their names."""
    out = {}
    for key, value in encoder.state_dict().items():
        for ours, theirs in TORCHVISION_STEM.items():
            if key.startswith(ours):
                key = theirs + key[len(ours):]
                break
        else:
            key = key.removeprefix("stages.")
        out[key] = value.detach().cpu().clone()
    return out


def torchvision_net(depth: int, in_channels: int) -> nn.Module:
    net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
    return net


def check_loads_into_torchvision(state: dict[str, torch.Tensor], depth: int, in_channels: int) -> nn.Module:
    """MoCo's linear-eval self-test: everything but fc loads, and nothing is left over."""
    net = torchvision_net(depth, in_channels)
    result = net.load_state_dict(state, strict=False)
    if set(result.missing_keys) != ONLY_MISSING or result.unexpected_keys:
        raise InfominError(f"the exported weights do not load into torchvision's resnet{depth} (missing "
                           f"{sorted(set(result.missing_keys) - ONLY_MISSING)}, unexpected {result.unexpected_keys}); "
                           "this is a bug, please report it")
    return net


def detectron2_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ResNet names -> Detectron2's (MoCo's convert-pretrain-to-detectron2 rules)."""
    out = {}
    for key, value in state.items():
        if key.startswith("fc.") or key.endswith("num_batches_tracked"):
            continue
        if "layer" not in key:
            key = "stem." + key
        for t in (1, 2, 3, 4):
            key = key.replace(f"layer{t}", f"res{t + 1}")
        for t in (1, 2, 3):
            key = key.replace(f"bn{t}", f"conv{t}.norm")
        key = key.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
        out[key] = value
    return out


def _write_torchvision(states, encoders, paths) -> None:
    for state, path in zip(states, paths, strict=True):
        atomic_torch_save(path, state)


def _write_detectron2(states, encoders, paths) -> None:
    if len(states) > 1 or encoders[0].stages["stem"][0].in_channels != 3:
        raise InfominError("Detectron2's ResNet takes 3-channel RGB, but this run's encoders are split by channel "
                           "(CMC); export them with --format torchvision (two files)")
    for state, path in zip(states, paths, strict=True):
        payload = {"model": {k: v.numpy() for k, v in detectron2_names(state).items()},
                   "__author__": "infomin", "matching_heuristics": True}
        atomic_write_bytes(path, pickle.dumps(payload))


FORMATS.add("torchvision", Format(".pth", "state_dict for torchvision.models.resnet* (only fc.* missing)",
                                  _write_torchvision))
FORMATS.add("detectron2", Format(".pkl", "Detectron2 pickle (stem, res2..res5, convK.norm, shortcut), numpy values",
                                 _write_detectron2))


def output_paths(out: Path, n: int) -> list[Path]:
    """One file, or for split encoders `<stem>-view1<suffix>`, `<stem>-view2<suffix>`."""
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}-view{i + 1}{out.suffix}") for i in range(n)]


def check_out(out: Path, suffix: str) -> None:
    """A file export may write: a file (not a folder, not under a file, a name the filesystem takes),
    and none of ours that it would replace: a run's own files (its checkpoint, say) or a results CSV."""
    if out.is_dir():
        raise InfominError(f"--out {out} is a folder; give a file name, e.g. {out / ('r50' + suffix)}")
    check_output_file(out, "--out")
    check_not_a_run_file(out, "--out")
    if is_results_file(out):
        raise InfominError(f"--out {out} is a results CSV; writing there would replace it: choose another file name")


def export_run(folder: str | Path, fmt: str, out: str | Path) -> list[Path]:
    """Write the run's backbone(s) in `fmt`; returns the files written. Every file it will write is
    checked before the run is read, and again (the two of a split run) before the first is written."""
    writer = FORMATS.get(fmt)
    out = Path(out)
    check_out(out, writer.suffix)
    config, model = load_encoders(Path(folder))
    encoders = list(model.encoders)
    if not all(isinstance(e, ResNet) for e in encoders):
        raise InfominError(f"--format {fmt} needs a ResNet run (--encoder resnet18 or resnet50); this run's encoder is "
                           f"{config.encoder!r}")
    depth = int(config.encoder.removeprefix("resnet"))
    states = [torchvision_state(e) for e in encoders]
    for state, encoder in zip(states, encoders, strict=True):
        check_loads_into_torchvision(state, depth, encoder.stages["stem"][0].in_channels)
    paths = output_paths(out, len(states))
    for path in paths:
        check_out(path, writer.suffix)
    writer.write(states, encoders, paths)
    return paths
