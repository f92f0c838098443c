"""Turn a config into the objects of a run, and a run folder back into them.

A run folder holds `config.yaml` (the resolved config), `checkpoint.pt` (model, optimiser,
schedule, RNG state and epoch: everything needed to continue identically), `metrics.csv` (one row
per epoch) and `summary.json` (written when training finishes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infomin_cli import ranges
from infomin_cli.config import HASHED_ALWAYS, LEGACY_NAMES, NOT_HASHED, RunConfig, load_presets
from infomin_cli.data import Dataset, load_dataset
from infomin_cli.data.base import DATASETS, ImageSet, default_dataset
from infomin_cli.data.source import BatchSource, as_source
from infomin_cli.errors import InfominError
from infomin_cli.models import ENCODERS, HEADS, ContrastiveModel, build_model
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.run_files import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    SUMMARY,
    damaged,
    load_state,
    read_checkpoint,
    read_summary,
    run_config,
)
from infomin_cli.runtime import distributed
from infomin_cli.runtime.device import pick_device
from infomin_cli.runtime.precision import FP32, Precision, check_precision, resolve
from infomin_cli.views import VIEWS, ViewPair

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "SUMMARY", "load_run", "validate"]


def config_hash(config: RunConfig) -> str:
    """16 hex digits naming what a run learns: the fields that change the result (not where files
    live or which device ran it), and the chosen objective's own options where they differ from its
    declared defaults. So a run keeps its hash when any method gains an option, and a field added to
    the config is hashed only where it is set away from its default."""
    defaults = RunConfig()
    payload = {}
    for key, value in config.to_dict().items():
        if key in NOT_HASHED or key == "methods":
            continue
        if key not in HASHED_ALWAYS and value == getattr(defaults, key):
            continue
        payload[LEGACY_NAMES.get(key, key)] = value
    declared = {o.name: o.default for o in OBJECTIVES.get(config.objective).options} \
        if config.objective in OBJECTIVES else {}
    for name, value in config.method_options().items():
        if name not in declared or value != declared[name]:
            payload[name] = value
    if config.knobs.get("level") == "infomin+jigsaw":  # the JigSaw rung became PyContrast's branch (v0.2)
        payload["jigsaw"] = "branch"
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_image_size(encoder: str, size: int | None, flag: str) -> None:
    """A size below the encoder's total stride leaves it no feature map: one line naming `flag`."""
    smallest = getattr(ENCODERS.get(encoder), "min_image_size", 1)
    if size is not None and size < smallest:
        raise InfominError(f"{flag} {size} is smaller than encoder {encoder}'s {smallest} px (its total stride); "
                           f"use at least {smallest}")


def validate(config: RunConfig) -> RunConfig:
    """Check every name and number before any data is read; knobs come back resolved (defaults
    filled in), so that `--knob crop-scale=0.2` and the default 0.2 hash the same."""
    family = VIEWS.get(config.views)
    defaults: dict[str, Any] = {}
    if config.dataset is None:
        defaults["dataset"] = default_dataset(family.data_kind)
    if config.image_size is None and family.image_size is not None:
        defaults["image_size"] = family.image_size
    config = config.merged(defaults)
    HEADS.get(config.head)
    objective = OBJECTIVES.get(config.objective)
    DATASETS.get(config.dataset)
    check_sequences(config, family)
    ranges.check_fields(config.to_dict())  # every numeric field in its declared range (ranges.py)
    check_image_size(config.encoder, config.image_size, "--image-size")
    if config.optimizer not in ("sgd", "adam"):
        raise InfominError(f"--optimizer {config.optimizer!r} is not valid; choose sgd or adam")
    settings = objective.settings(config)  # its own options, defaults filled in, each checked
    objective.check(config, settings, family)
    check_log(config.log)
    resolved = RunConfig.from_dict({**config.to_dict(), "knobs": family.resolve(config.knobs),
                                    "methods": {config.objective: vars(settings)},
                                    "precision": check_precision(config.precision)})
    if resolved.knobs.get("level") == "infomin+jigsaw" and not objective.supports_jigsaw:
        raise InfominError(f"--objective {config.objective} has no JigSaw branch; use moco or infonce with "
                           "level=infomin+jigsaw")
    return resolved


def check_sequences(config: RunConfig, family) -> None:
    """Sequence views need a dataset of frame sequences and the encoder those frames need, and no
    other views read such a dataset (the dataset's registered capabilities say which it is)."""
    reads_sequences, data = family.data_kind == "sequences", DATASETS.get(config.dataset)
    if reads_sequences and data.item != "sequence":
        raise InfominError(f"--views {config.views} needs sequences: use --dataset {default_dataset(family.data_kind)} "
                           f"(not {config.dataset})")
    if not reads_sequences and data.item == "sequence":
        views = [name for name, other in VIEWS.items() if other.data_kind == "sequences"]
        presets = [name for name, preset in load_presets().items()
                   if (preset.get("config") or {}).get("dataset") == config.dataset]
        raise InfominError(f"--dataset {config.dataset} holds frame sequences; use --views {' or '.join(views)}"
                           + (f" (or --preset {presets[0]})" if presets else "") + f", not {config.views}")
    if reads_sequences and data.encoder is not None and config.encoder != data.encoder:
        raise InfominError(f"--views {config.views} feeds frame sequences to the encoder; use --encoder {data.encoder} "
                           f"(the encoder {config.dataset}'s frames need), not {config.encoder}")


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


def item_side(split: ImageSet | BatchSource) -> int:
    """Side of a split's stored items."""
    return int(as_source(split).shape[-1])


def image_size_of(config: RunConfig, dataset: Dataset) -> int:
    return int(item_side(dataset.pretrain) if config.image_size is None else config.image_size)


def load_data(config: RunConfig, name: str | None = None, root: str | Path | None = None,
              stream: bool | None = None) -> Dataset:
    """The run's dataset (or `name` from `root`), streamed as the config or `stream` says."""
    return load_dataset(name or config.dataset, root if name else config.data_root, config.image_size,
                        stream=config.stream if stream is None else stream, strict=config.strict_data,
                        workers=config.workers)


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
    precision: Precision = FP32  # resolved against the device: what the objective and the monitor run at


def build(config: RunConfig) -> Built:
    """Device, data, views and a fresh model for a validated config (seeded, on the device), and the
    precision they compute at (`auto` resolved against that device).

    Under torchrun this is where the process joins the group and takes cuda:LOCAL_RANK."""
    device = distributed.setup(config.device)
    precision = resolve(config.precision, device)
    torch.manual_seed(config.seed)
    dataset = load_data(config)
    size = image_size_of(config, dataset)
    views = build_views(config, size)
    model = build_model(config, views.channels, views.shared_encoder).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return Built(device, dataset, size, views, model, precision)


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
    precision: Precision = FP32  # what probes and estimates run the encoders at
    epochs_done: int | None = None  # the checkpoint's epoch (None: as the config plans)

    @property
    def epochs_trained(self) -> int:
        """Epochs the loaded weights were trained for: 0 untrained, else the checkpoint's."""
        return 0 if not self.trained else self.config.epochs if self.epochs_done is None else self.epochs_done

    @property
    def unfinished(self) -> bool:
        """Trained, but for fewer epochs than its config plans (killed, or still training)."""
        return self.trained and self.epochs_trained < self.config.epochs


def load_run(folder: str | Path, device: str = "auto", random_init: bool = False,
             dataset: str | None = None, data_root: str | Path | None = None, stream: bool | None = None,
             precision: str | None = None) -> LoadedRun:
    """Rebuild a run from its folder. With `random_init`, the same architecture with fresh weights
    (the baseline a probe of a trained encoder must beat). `dataset` swaps in another dataset for
    transfer probes (the paper trains patch views on DIV2K and probes on STL-10 / CIFAR-10).
    `precision` (None: the run's own config's, `auto` unless it was trained with another) is
    resolved against the device picked here."""
    if precision is not None:
        check_precision(precision)  # before any file is read
    folder = Path(folder)
    config = run_config(folder)  # every run file is read (and a damaged one named) before the dataset is
    summary = read_summary(folder / SUMMARY)
    trained = not random_init
    state, epochs_done = None, 0
    if trained:
        if not (folder / CHECKPOINT).is_file():
            raise InfominError(f"{folder} has no {CHECKPOINT} yet; train it with `infomin pretrain --out {folder}`")
        checkpoint = read_checkpoint(folder / CHECKPOINT)
        state, epochs_done = checkpoint["model"], checkpoint.get("epoch", config.epochs)
        if not isinstance(epochs_done, int) or isinstance(epochs_done, bool) or epochs_done < 0:
            raise damaged(folder / CHECKPOINT, f"its epoch {epochs_done!r} is not a whole number of epochs")
    dev = pick_device(device)
    chosen = resolve(config.precision if precision is None else precision, dev)
    if dataset is not None:
        DATASETS.get(dataset)
    data = load_data(config, dataset, data_root, stream)
    size = image_size_of(config, data) if dataset is None else _trained_size(folder, config, data)
    views = build_views(config, size, folder)
    loaded = _with_model(folder, config, data, views, dev, size, summary, state, chosen)
    loaded.epochs_done = epochs_done
    return loaded


def untrained_run(config: RunConfig, folder: str | Path, device: str = "auto") -> LoadedRun:
    """A validated config's architecture at its seeded initialisation, with no run folder behind it:
    what `load_run(random_init=True)` gives for a run of that config (a factors sweep's untrained
    reference row). `folder` only names it (run_id)."""
    data = load_data(config)
    size = image_size_of(config, data)
    dev = pick_device(device)
    return _with_model(Path(folder), config, data, build_views(config, size), dev, size, {}, None,
                       resolve(config.precision, dev))


def _with_model(folder: Path, config: RunConfig, data: Dataset, views: ViewPair, dev: torch.device, size: int,
                summary: dict[str, Any], state: Any, precision: Precision) -> LoadedRun:
    """The run's model, seeded then loaded from `state` (None: left at its initialisation), on `dev`."""
    torch.manual_seed(config.seed)
    model = build_model(config, views.channels, views.shared_encoder)
    if state is not None:
        load_state(model, state, folder / CHECKPOINT)
    return LoadedRun(folder, config, data, views, model.to(dev).eval(), dev, size, summary, state is not None,
                     precision)


def _trained_size(folder: Path, config: RunConfig, data: Dataset) -> int:
    """A transfer probe feeds the encoder at the size it was trained at."""
    if config.image_size is not None:
        return int(config.image_size)
    summary = read_summary(folder / SUMMARY)
    if "image_size" in summary:
        try:
            return int(summary["image_size"])
        except (TypeError, ValueError):
            raise damaged(folder / SUMMARY, f"image_size {summary['image_size']!r} is not a number") from None
    return item_side(data.pretrain)
