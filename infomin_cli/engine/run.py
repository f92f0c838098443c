"""Turn a config into the objects of a run, and a run folder back into them.

A run folder holds `config.yaml` (the resolved config), `checkpoint.pt` (model, optimiser,
schedule, RNG state and epoch: everything needed to continue identically), `metrics.csv` (one row
per epoch) and `summary.json` (written when training finishes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infomin_cli.config import RunConfig
from infomin_cli.data import Dataset, load_dataset
from infomin_cli.data.base import DATASETS
from infomin_cli.engine.device import pick_device
from infomin_cli.errors import InfominError
from infomin_cli.models import ENCODERS, HEADS, ContrastiveModel, build_model
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.base import Objective
from infomin_cli.objectives.memory_bank import VARIANTS as BANK_LOSSES
from infomin_cli.objectives.moco import check_queue
from infomin_cli.views import VIEWS, ViewPair

CONFIG, CHECKPOINT, SUMMARY, METRICS = "config.yaml", "checkpoint.pt", "summary.json", "metrics.csv"


def validate(config: RunConfig) -> RunConfig:
    """Check every name and number before any data is read; knobs come back resolved (defaults
    filled in), so that `--knob crop-scale=0.2` and the default 0.2 hash the same."""
    family = VIEWS.get(config.views)
    defaults: dict[str, Any] = {}
    if config.dataset is None:
        defaults["dataset"] = "highres" if family.data_kind == "highres" else "embedded"
    if config.image_size is None and family.image_size is not None:
        defaults["image_size"] = family.image_size
    config = config.merged(defaults)
    ENCODERS.get(config.encoder)
    HEADS.get(config.head)
    objective = OBJECTIVES.get(config.objective)
    DATASETS.get(config.dataset)
    for name, low in (("batch_size", 2), ("epochs", 1), ("feat_dim", 1)):
        if int(getattr(config, name)) < low:
            raise InfominError(f"--{name.replace('_', '-')} must be at least {low}")
    if not config.temperature > 0 or not config.lr > 0:
        raise InfominError("--temperature and --lr must be positive")
    if config.optimizer not in ("sgd", "adam"):
        raise InfominError(f"--optimizer {config.optimizer!r} is not valid; choose sgd or adam")
    if not 0 <= config.key_momentum < 1:
        raise InfominError(f"--key-momentum {config.key_momentum} must be in [0, 1), e.g. 0.999")
    if not 0 <= config.jigsaw_beta <= 1:
        raise InfominError(f"--jigsaw-beta {config.jigsaw_beta} must be in [0, 1]; the paper uses 0.5")
    if config.objective == "moco":
        check_queue(config.queue, config.batch_size)
    if config.objective == "memory-bank" and config.bank_negatives < 1:
        raise InfominError(f"--bank-negatives {config.bank_negatives} must be at least 1")
    if config.bank_loss not in BANK_LOSSES:
        raise InfominError(f"--bank-loss {config.bank_loss!r} is not valid; choose {' or '.join(BANK_LOSSES)}")
    if config.objective == "learn-views":
        check_view_learner(config, family)
    check_log(config.log)
    resolved = RunConfig.from_dict({**config.to_dict(), "knobs": family.resolve(config.knobs)})
    if resolved.knobs.get("level") == "infomin+jigsaw" and not objective.supports_jigsaw:
        raise InfominError(f"--objective {config.objective} has no JigSaw branch; use moco or infonce with "
                           "level=infomin+jigsaw")
    return resolved


def check_view_learner(config: RunConfig, family) -> None:
    """learn-views' own options; its views are a colour-space split that g re-mixes."""
    from infomin_cli.objectives.view_learner import MODES
    from infomin_cli.views.flow import COUPLINGS

    if "colorspace-split" not in (family.name, family.aliases_of):
        raise InfominError(f"learn-views starts from a colour-space split, not --views {config.views}; "
                           "pass --from SPACE (e.g. rgb, ydbdr)")
    COUPLINGS.get(config.flow)
    if config.view_mode not in MODES:
        raise InfominError(f"--mode {config.view_mode!r} is not valid; choose one of: {', '.join(MODES)}")
    if not 0 < config.labelled <= 1:
        raise InfominError(f"--labelled {config.labelled} must be a fraction in (0, 1], e.g. 0.1")
    if not config.generator_lr > 0:
        raise InfominError("--generator-lr must be positive (the paper: 2e-4)")
    for name, flag in (("flow_blocks", "--blocks"), ("save_every", "--save-every")):
        if int(getattr(config, name)) < 1:
            raise InfominError(f"{flag} must be at least 1")


def check_log(log: str | None) -> None:
    """--log tensorboard needs the optional package; say so before any data is read."""
    if log in (None, "", "none"):
        return
    if log != "tensorboard":
        raise InfominError(f"--log {log!r} is not valid; choose tensorboard (or leave it out)")
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise InfominError("--log tensorboard needs the tensorboard package: pip install 'infomin[tensorboard]'") from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, and the way out
        raise InfominError(f"{path} is damaged ({type(exc).__name__}); delete the run folder or choose another --out") from None




def image_size_of(config: RunConfig, dataset: Dataset) -> int:
    return int(config.image_size or dataset.pretrain.images.shape[-1])


def build_views(config: RunConfig, image_size: int, folder: Path | None = None) -> ViewPair:
    """The run's views; with its folder, from what the run saved (learned views: its own generator)."""
    family = VIEWS.get(config.views)
    if folder is not None and family.from_run is not None:
        return family.from_run(folder, config.knobs, image_size)
    return family.make(config.knobs, image_size)


@dataclass
class Built:
    device: torch.device
    dataset: Dataset
    image_size: int
    views: ViewPair
    model: ContrastiveModel


def build(config: RunConfig) -> Built:
    """Device, data, views and a fresh model for a validated config (seeded, on the device)."""
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    dataset = load_dataset(config.dataset, config.data_root, config.image_size)
    size = image_size_of(config, dataset)
    views = build_views(config, size)
    model = build_model(config, views.channels, views.shared_encoder).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return Built(device, dataset, size, views, model)


def build_objective(config: RunConfig, built: Built, n_samples: int) -> Objective:
    """The objective module for a validated config; it sees the model (MoCo copies it as the key
    encoder) and how many samples an epoch indexes (the memory bank's size)."""
    return OBJECTIVES.get(config.objective).create(built, config, n_samples)


@dataclass
class LoadedRun:
    folder: Path
    config: RunConfig
    dataset: Dataset
    views: ViewPair
    model: ContrastiveModel
    device: torch.device
    image_size: int
    summary: dict[str, Any]
    trained: bool


def load_run(folder: str | Path, device: str = "auto", random_init: bool = False,
             dataset: str | None = None, data_root: str | Path | None = None) -> LoadedRun:
    """Rebuild a run from its folder. With `random_init`, the same architecture with fresh weights
    (the baseline a probe of a trained encoder must beat). `dataset` swaps in another dataset for
    transfer probes (the paper trains patch views on DIV2K and probes on STL-10 / CIFAR-10)."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise InfominError(f"{folder} is not a run folder (no {CONFIG}); pass the --out folder of `infomin pretrain`")
    config = RunConfig.load(folder / CONFIG)
    dev = pick_device(device)
    if dataset is not None:
        DATASETS.get(dataset)
    size_hint = config.image_size
    data = load_dataset(dataset or config.dataset, data_root if dataset else config.data_root, size_hint)
    size = int(config.image_size or data.pretrain.images.shape[-1]) if dataset is None else _trained_size(folder, config, data)
    views = build_views(config, size, folder)
    torch.manual_seed(config.seed)
    model = build_model(config, views.channels, views.shared_encoder)
    trained = not random_init
    if trained:
        if not (folder / CHECKPOINT).is_file():
            raise InfominError(f"{folder} has no {CHECKPOINT} yet; train it with `infomin pretrain --out {folder}`")
        model.load_state_dict(load_checkpoint(folder / CHECKPOINT)["model"])
    summary = json.loads((folder / SUMMARY).read_text()) if (folder / SUMMARY).is_file() else {}
    return LoadedRun(folder, config, data, views, model.to(dev).eval(), dev, size, summary, trained)


def _trained_size(folder: Path, config: RunConfig, data: Dataset) -> int:
    """A transfer probe feeds the encoder at the size it was trained at."""
    if config.image_size:
        return int(config.image_size)
    if (folder / SUMMARY).is_file():
        return int(json.loads((folder / SUMMARY).read_text())["image_size"])
    return int(data.pretrain.images.shape[-1])
