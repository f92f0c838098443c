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

# the repository's top-level experiments.yaml: a link to it in the source tree, the file itself in a wheel
PRESETS_FILE = Path(__file__).resolve().parent / "experiments.yaml"


# Fields that choose how a run is computed or where its files live, not what it learns.
NOT_HASHED = frozenset({"data_root", "device", "precision", "preset", "knn_monitor", "log", "stream", "strict_data", "workers"})
# The fields of the first release: every run since hashes them. Any other field is hashed only where
# it differs from its default, so a field added later leaves every earlier run's hash as it was.
HASHED_ALWAYS = frozenset({"dataset", "views", "knobs", "encoder", "head", "feat_dim", "objective", "temperature",
                           "batch_size", "epochs", "optimizer", "lr", "weight_decay", "sgd_momentum", "seed",
                           "image_size", "limit"})
# What a resumed run may change: how it is computed, and how long it trains (the schedule is re-planned)
ON_RESUME = NOT_HASHED | {"epochs"}
LEGACY_NAMES = {"sgd_momentum": "momentum"}  # hashed (and read from old config.yaml) under the old name
CURRENT_NAMES = {old: new for new, old in LEGACY_NAMES.items()}  # an old name -> the field it is
# Method options that config.yaml files of the first releases held as flat fields, and whose they were
LEGACY_OPTIONS = {
    "queue": ("moco",), "key_momentum": ("moco",), "symmetric": ("moco",), "bank_negatives": ("memory-bank",), "bank_loss": ("memory-bank",),
    "jigsaw_beta": ("infonce", "moco"), "flow": ("learn-views",), "flow_blocks": ("learn-views",),
    "view_mode": ("learn-views",), "labelled": ("learn-views",), "generator_lr": ("learn-views",),
    "save_every": ("learn-views",),
}


@dataclass
class RunConfig:
    dataset: str | None = None  # None -> the view family's default data (embedded, or highres for patches)
    data_root: str | None = None
    views: str = "lab-split"
    knobs: dict[str, Any] = field(default_factory=dict)
    encoder: str = "convnet"
    head: str = "linear"
    feat_dim: int = 128
    objective: str = "infonce"  # see `infomin objectives`
    # each method's own options, in a namespace per method ({"moco": {"queue": 4096}}); the method
    # declares them (`Objective.options`), and only the chosen objective's apply
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
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

    def method_options(self) -> dict[str, Any]:
        """The chosen objective's own options as given (its defaults fill the rest: `Objective.settings`)."""
        return dict(self.methods.get(self.objective) or {})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """A config from a mapping: a config.yaml, a preset's block. Flat method options of the first
        releases' files (`queue: 4096`) go into the namespace of the methods they belonged to."""
        names = {f.name for f in dataclasses.fields(cls)}
        data = dict(data)
        for new, old in LEGACY_NAMES.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        methods = data.get("methods") or {}
        if not isinstance(methods, Mapping) or not all(isinstance(v, Mapping) for v in methods.values()):
            raise InfominError("'methods' must map each method's name to its options, e.g. {moco: {queue: 4096}}")
        methods = {str(name): dict(values) for name, values in methods.items()}
        for key in [k for k in data if k in LEGACY_OPTIONS]:
            value = data.pop(key)
            for owner in LEGACY_OPTIONS[key]:
                methods.setdefault(owner, {}).setdefault(key, value)
        data["methods"] = methods
        unknown = sorted(set(data) - names)
        if unknown:
            raise InfominError(
                f"unknown config field {unknown[0]!r}; valid fields: {', '.join(sorted(names))}"
            )
        return cls(**dict(data))

    def merged(self, overrides: Mapping[str, Any], keep_none: bool = False) -> RunConfig:
        """A copy with the non-None overrides applied (flags the user did not give stay None).
        With `keep_none`, None is a value too (a preset's `paper:` block resets `limit: null`; for a
        method option it restores the method's default). A name that is no field of the config is
        an option of the objective the result trains (`--queue` goes to moco's namespace), checked
        against that method's declaration when the config is validated."""
        names = {f.name for f in dataclasses.fields(RunConfig)}
        data = self.to_dict()
        own: dict[str, Any] = {}
        for key, value in overrides.items():
            key = CURRENT_NAMES.get(key, key)
            if value is None and not keep_none:
                continue
            if key == "knobs":
                data["knobs"] = {**data["knobs"], **value}
            elif key == "methods":
                for method, values in (value or {}).items():
                    data["methods"][method] = {**data["methods"].get(method, {}), **values}
            elif key in names:
                data[key] = value
            else:
                own[key] = value
        if own:
            mine = data["methods"].setdefault(data["objective"], {})
            for key, value in own.items():
                if value is None:
                    mine.pop(key, None)
                else:
                    mine[key] = value
        return RunConfig.from_dict(data)

    def save(self, path: Path) -> None:
        from infomin_cli.atomic import atomic_write_text

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def _read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(Path(path).read_bytes().decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InfominError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}); fix {what}") from None
    except OSError as exc:
        raise InfominError(f"cannot read {path} ({exc.strerror or type(exc).__name__}); check {what}") from None


def load_presets(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The presets of a file: the packaged experiments.yaml by default."""
    path = Path(path) if path else PRESETS_FILE
    if not path.is_file():
        raise InfominError(f"preset file {path} not found; reinstall infomin (the presets ship inside the package)")
    data = _read_yaml(path, "the file")
    presets = data.get("presets") if isinstance(data, dict) else None
    if not isinstance(presets, dict) or not all(isinstance(v, dict) for v in presets.values()):
        raise InfominError(f"{path} has no 'presets:' mapping of preset names to their settings at the top level")
    return presets


@dataclass
class ConfigFile:
    """What `--config FILE` brings: a run's config.yaml or any mapping of config fields (`fields`), or a
    preset file (`presets`, beside the packaged ones and taking their place where the names meet)."""

    path: Path
    fields: dict[str, Any] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_config_file(path: str | Path) -> ConfigFile:
    path = Path(path)
    if not path.is_file():
        raise InfominError(f"--config {path} is not a file; pass a run's config.yaml or a preset file")
    data = _read_yaml(path, "--config")
    if not isinstance(data, dict):
        raise InfominError(f"--config {path} holds a {type(data).__name__}, not a mapping of config fields or presets")
    if "presets" in data:
        return ConfigFile(path, presets=load_presets(path))
    RunConfig.from_dict(data)  # a field this version does not know is one line now, not after the data loads
    return ConfigFile(path, fields=data)


def get_preset(name: str, path: Path | None = None, extra: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A preset, with `base: OTHER` resolved: its config/paper/sweep blocks start from OTHER's. `extra`:
    a user's presets, beside the packaged ones (a user preset may start from a packaged one)."""
    presets = {**load_presets(path), **(extra or {})}
    if name not in presets:
        raise InfominError(f"unknown preset {name!r}; choose one of: {', '.join(sorted(presets))} (or see `infomin presets`)")
    entry = dict(presets[name])
    if "base" in entry:
        base = get_preset(entry.pop("base"), path, extra)
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


def chosen_preset(preset: str | None, config_file: ConfigFile | None) -> str | None:
    """--preset, or the one preset a --config preset file holds."""
    if preset or config_file is None or not config_file.presets:
        return preset
    if len(config_file.presets) == 1:
        return next(iter(config_file.presets))
    raise InfominError(f"--config {config_file.path} holds presets {', '.join(sorted(config_file.presets))}; "
                       "choose one with --preset")


def resolve_config(
    preset: str | None, overrides: Mapping[str, Any], scale: str = "embedded", presets_file: Path | None = None,
    config_file: ConfigFile | None = None,
) -> RunConfig:
    """defaults <- preset's `config` (<- its `paper` block when scale == 'paper') <- a --config file's
    fields <- explicit flags. A --config preset file adds its presets to the packaged ones."""
    config = RunConfig()
    preset = chosen_preset(preset, config_file)
    if preset:
        entry = get_preset(preset, presets_file, config_file.presets if config_file else None)
        config = config.merged(entry.get("config", {}))
        if scale == "paper":
            if "paper" not in entry:
                raise InfominError(f"preset {preset!r} has no paper-scale settings; use --scale embedded")
            config = config.merged(entry["paper"], keep_none=True)
        elif scale != "embedded":
            raise InfominError(f"--scale {scale!r} is not valid; choose embedded or paper")
        config.preset = preset
    if config_file is not None and config_file.fields:
        config = config.merged(config_file.fields, keep_none=True)
    return config.merged(overrides)


def resumed(saved: RunConfig, overrides: Mapping[str, Any], epochs_done: int = 0) -> RunConfig:
    """A run's saved config with the flags given to continue it. Only what does not alter what it has
    learned may change (`ON_RESUME`: the device, precision, data location, ... and --epochs, as long as
    it keeps the epochs already done); anything else is one line naming the field, its saved value and
    the given one."""
    given = saved.merged(overrides)
    before, after = saved.to_dict(), given.to_dict()
    for key in before:
        if key in ON_RESUME or before[key] == after[key]:
            continue
        if key == "methods":
            old, new = saved.method_options(), given.method_options()
            key, was, now = next((f"{name}", old.get(name), new.get(name)) for name in {*old, *new}
                                 if old.get(name) != new.get(name))
        else:
            was, now = before[key], after[key]
        raise InfominError(f"--{key.replace('_', '-')} {now} differs from the run's own {key}: {was}; a resumed run "
                           f"keeps what it trained with (only --epochs and how it runs, e.g. --device, --precision, "
                           f"may change): leave it out, or choose another --out for a new run")
    if given.epochs < epochs_done:
        raise InfominError(f"--epochs {given.epochs} is fewer than the {epochs_done} the run has trained; "
                           f"give at least {epochs_done} (more extends it)")
    return given


def parse_knob_args(items: list[str] | None) -> dict[str, str]:
    """`["crop-scale=0.2", "jitter=1"]` -> {"crop-scale": "0.2", "jitter": "1"}."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InfominError(f"--knob {item!r} must look like name=value, e.g. --knob crop-scale=0.2")
        name = name.strip()
        if name in out:  # the last one silently winning hid typos in long command lines
            raise InfominError(f"--knob {name} is given twice ({out[name]} and {value.strip()}); give each knob once")
        out[name] = value.strip()
    return out
