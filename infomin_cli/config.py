"""The resolved run configuration: defaults <- preset <- explicit flags, saved beside every run.

Its hash (over the fields that change the result, not where files live or which device ran it)
goes into every CSV row, so a sweep knows which points it already has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infomin_cli.errors import InfominError

PRESETS_FILE = Path(__file__).resolve().parent / "experiments.yaml"  # shipped in the package


@dataclass
class RunConfig:
    dataset: str | None = None  # None -> the view family's default data (embedded, or highres for patches)
    data_root: str | None = None
    views: str = "lab-split"
    knobs: dict[str, Any] = field(default_factory=dict)
    encoder: str = "convnet"
    head: str = "linear"
    feat_dim: int = 128
    objective: str = "infonce"  # see `infomin objectives`; its options follow
    queue: int = 65536  # moco: negatives in the queue
    key_momentum: float = 0.999  # moco: f_k <- m f_k + (1 - m) f_q (not SGD's momentum)
    symmetric: bool = False  # moco: with a shared encoder, both views query the other's keys
    bank_negatives: int = 16384  # memory-bank: negatives drawn per sample
    bank_loss: str = "softmax"  # memory-bank: softmax or nce
    jigsaw_beta: float = 0.5  # weight of the JigSaw loss with level=infomin+jigsaw
    flow: str = "vp"  # learn-views: vp or nvp coupling
    flow_blocks: int = 3  # learn-views: coupling blocks of the generator
    view_mode: str = "semi-supervised"  # learn-views: unsupervised, semi-supervised or supervised
    labelled: float = 0.1  # learn-views: fraction of the labelled train split
    generator_lr: float = 2e-4  # learn-views: the generator's Adam rate (the critic's is lr)
    save_every: int = 2  # learn-views: keep the generator every N epochs
    temperature: float = 0.07
    batch_size: int = 128
    epochs: int = 30
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 1e-5
    sgd_momentum: float = 0.9  # the optimiser's momentum (not MoCo's key momentum)
    seed: int = 0
    image_size: int | None = None  # encoder input size; None -> the dataset's own size
    limit: int | None = None  # use only the first N pretraining images
    device: str = "auto"
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 elsewhere), bf16 or fp32: runtime/precision.py
    preset: str | None = None
    knn_monitor: bool = True  # k-NN accuracy on the held-out split after every epoch
    log: str | None = None  # "tensorboard": also write TensorBoard event files
    sync_bn: bool = False  # several processes: BN statistics over the global batch (SyncBatchNorm)
    stream: bool | None = None  # image folders: read from disk (None: when they would not fit in memory)
    strict_data: bool = False  # an unreadable image file stops the run (default: skipped and counted)
    workers: int | None = None  # processes decoding a streamed dataset (None: the cores less one, at most 16)

    # fields that do not change what is learned
    _NOT_HASHED = ("data_root", "device", "precision", "preset", "knn_monitor", "log", "stream", "strict_data", "workers")
    # fields added with the objectives: hashed only where the objective uses them and only when they
    # differ from the default, so every run and CSV row made before them keeps its hash
    _OBJECTIVE_FIELDS = ("queue", "key_momentum", "symmetric", "bank_negatives", "bank_loss", "jigsaw_beta",
                         "flow", "flow_blocks", "view_mode", "labelled", "generator_lr", "save_every")
    _LEGACY_NAMES = {"sgd_momentum": "momentum"}  # hashed (and read from old config.yaml) under the old name
    _HASHED_WHEN_SET = ("sync_bn",)  # added later: hashed only when not the default, so older hashes hold

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        data = dict(data)
        for new, old in cls._LEGACY_NAMES.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        unknown = sorted(set(data) - names)
        if unknown:
            raise InfominError(
                f"unknown config field {unknown[0]!r}; valid fields: {', '.join(sorted(names))}"
            )
        return cls(**dict(data))

    def merged(self, overrides: Mapping[str, Any], keep_none: bool = False) -> RunConfig:
        """A copy with the non-None overrides applied (flags the user did not give stay None).
        With `keep_none`, None is a value too (a preset's `paper:` block resets `limit: null`)."""
        data = self.to_dict()
        for key, value in overrides.items():
            if value is None and not keep_none:
                continue
            if key == "knobs":
                data["knobs"] = {**data["knobs"], **value}
            else:
                data[key] = value
        return RunConfig.from_dict(data)

    def save(self, path: Path) -> None:
        from infomin_cli.atomic import atomic_write_text

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def load_presets(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = Path(path) if path else PRESETS_FILE
    if not path.is_file():
        raise InfominError(f"preset file {path} not found; pass --presets FILE or reinstall infomin (the presets ship inside the package)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InfominError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    presets = data.get("presets")
    if not isinstance(presets, dict):
        raise InfominError(f"{path} has no 'presets:' mapping at the top level")
    return presets


def get_preset(name: str, path: Path | None = None) -> dict[str, Any]:
    """A preset, with `base: OTHER` resolved: its config/paper/sweep blocks start from OTHER's."""
    presets = load_presets(path)
    if name not in presets:
        raise InfominError(f"unknown preset {name!r}; choose one of: {', '.join(sorted(presets))}")
    entry = dict(presets[name])
    if "base" in entry:
        base = get_preset(entry.pop("base"), path)
        for block in ("config", "paper", "sweep"):
            if block in base or block in entry:
                entry[block] = _merge(base.get(block) or {}, entry.get(block) or {})
        entry = {**{k: v for k, v in base.items() if k not in entry}, **entry}
    return entry


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
    return out


def resolve_config(
    preset: str | None, overrides: Mapping[str, Any], scale: str = "embedded", presets_file: Path | None = None
) -> RunConfig:
    """defaults <- preset's `config` (<- its `paper` block when scale == 'paper') <- explicit flags."""
    config = RunConfig()
    if preset:
        entry = get_preset(preset, presets_file)
        config = config.merged(entry.get("config", {}))
        if scale == "paper":
            if "paper" not in entry:
                raise InfominError(f"preset {preset!r} has no paper-scale settings; use --scale embedded")
            config = config.merged(entry["paper"], keep_none=True)
        elif scale != "embedded":
            raise InfominError(f"--scale {scale!r} is not valid; choose embedded or paper")
        config.preset = preset
    return config.merged(overrides)
