"""The resolved run configuration: defaults <- preset <- explicit flags, saved beside every run.

Its hash (over the fields that change the result, not where files live or which device ran it)
goes into every CSV row, so a sweep knows which points it already has.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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
    objective: str = "infonce"
    temperature: float = 0.07
    batch_size: int = 128
    epochs: int = 30
    optimizer: str = "adam"
    lr: float = 2e-3
    weight_decay: float = 1e-5
    momentum: float = 0.9
    seed: int = 0
    image_size: int | None = None  # encoder input size; None -> the dataset's own size
    limit: int | None = None  # use only the first N pretraining images
    device: str = "auto"
    preset: str | None = None

    # fields that do not change what is learned
    _NOT_HASHED = ("data_root", "device", "preset")

    def hash(self) -> str:
        payload = {k: v for k, v in self.to_dict().items() if k not in self._NOT_HASHED}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InfominError(
                f"unknown config field {unknown[0]!r}; valid fields: {', '.join(sorted(names))}"
            )
        return cls(**dict(data))

    def merged(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A copy with the non-None overrides applied (flags the user did not give stay None)."""
        data = self.to_dict()
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "knobs":
                data["knobs"] = {**data["knobs"], **value}
            else:
                data[key] = value
        return RunConfig.from_dict(data)

    def save(self, path: Path) -> None:
        from infomin_cli.atomic import atomic_write_text

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})


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
    presets = load_presets(path)
    if name not in presets:
        raise InfominError(f"unknown preset {name!r}; choose one of: {', '.join(sorted(presets))}")
    return presets[name]


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
            config = config.merged(entry["paper"])
        elif scale != "embedded":
            raise InfominError(f"--scale {scale!r} is not valid; choose embedded or paper")
        config.preset = preset
    return config.merged(overrides)
