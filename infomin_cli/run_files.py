"""The one reader of the files a run writes and the tool reads back: a run folder's config.yaml,
checkpoint.pt, summary.json, metrics.csv, and the same kinds of file elsewhere (a view learner's
generators, the generator copy of a learned-views run).

Every command that meets such a folder (probe, mi-estimate, pretrain --resume, learn-views
--resume, sweep, export, `--knob generator=`) reads it through here, so a truncated, garbage,
hand-edited or foreign file gets the same one line wherever it is met: the file, that it is
damaged and why, and the way out. Tensor files are read with `weights_only=True`: they hold
tensors, numbers and plain containers only, never code. Caches, which are ours to rebuild, are
read by data/cache.py.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from infomin_cli import ranges
from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.paths import CHECKPOINT, CONFIG, METRICS, RUN_FILES, SUMMARY

__all__ = ["CHECKPOINT", "CONFIG", "METRICS", "RUN_FILES", "SUMMARY", "check_not_a_run_file", "damaged",
           "load_state", "read_checkpoint", "read_config", "read_summary"]
# fields every config.yaml has had since the first version; a file without one was cut short or hand-written
CORE_FIELDS = ("views", "knobs", "encoder", "head", "temperature", "batch_size", "epochs", "seed")
RESUME_KEYS = ("model", "generator", "epoch")  # and the optimiser state: one ("optimizer") or several ("optimizers")


def damaged(path: str | Path, why: str, way_out: str | None = None) -> InfominError:
    path = Path(path)
    way_out = way_out or f"delete the run folder {path.parent} and train it again, or use another --out"
    return InfominError(f"{path} is damaged ({why}); {way_out}")


def read_config(path: str | Path, way_out: str | None = None) -> RunConfig:
    """A run's config.yaml: YAML, a mapping, every core field, known fields only, numbers in range."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_bytes().decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise damaged(path, f"not valid YAML: {_first_line(exc)}", way_out) from None
    except OSError as exc:
        raise damaged(path, exc.strerror or type(exc).__name__, way_out) from None
    if not isinstance(data, dict):
        raise damaged(path, f"a {type(data).__name__}, not a mapping of config fields", way_out)
    missing = [name for name in CORE_FIELDS if name not in data]
    if missing:
        raise damaged(path, f"incomplete: no {missing[0]!r}", way_out)
    if not isinstance(data.get("knobs"), dict):
        raise damaged(path, "'knobs' is not a mapping", way_out)
    try:
        config = RunConfig.from_dict(data)
        ranges.check_fields(config.to_dict())
    except (InfominError, TypeError) as exc:
        raise damaged(path, _first_line(exc), way_out) from None
    return config


def run_config(folder: str | Path) -> RunConfig:
    """The config.yaml of a run folder (one line when the folder is not a run or the file is damaged)."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file():
        raise InfominError(f"{folder} is not a run folder (no {CONFIG}); pass the --out folder of `infomin pretrain`")
    return read_config(folder / CONFIG)


def read_summary(path: str | Path) -> dict[str, Any]:
    """A run's summary.json ({} when the run has none yet)."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise damaged(path, f"not valid JSON: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise damaged(path, f"a JSON {type(data).__name__}, not an object")
    return data


def read_checkpoint(path: str | Path, keys: Iterable[str] = ("model",), way_out: str | None = None) -> dict[str, Any]:
    """A checkpoint with at least `keys` (RESUME_KEYS to continue training)."""
    import torch  # here, not at the top: a sweep's scheduler reads summaries without paying for torch

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch's remarks on a foreign pickle: the one line below says it
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, garbage, or pickled objects weights_only refuses: all the same to a user
        raise damaged(path, f"cannot be read by torch.load: {type(exc).__name__}", way_out) from None
    if not isinstance(state, dict):
        raise damaged(path, f"holds a {type(state).__name__}, not a checkpoint", way_out)
    missing = [key for key in keys if key not in state]
    if missing:
        raise damaged(path, f"incomplete: no {missing[0]!r}", way_out)
    return state


def load_state(module: Any, state: Any, path: str | Path, what: str = "model", way_out: str | None = None) -> None:
    """`module.load_state_dict(state)`; weights of another shape mean the file is not this run's."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        raise damaged(path, f"its {what} does not fit config.yaml: {_first_line(exc)[:160]}", way_out) from None


def check_not_a_run_file(path: str | Path, flag: str) -> None:
    """An output that would replace one of a run folder's files (its checkpoint, say) is refused."""
    path = Path(path)
    folder = path.parent
    if path.name in RUN_FILES and any((folder / name).is_file() for name in (CONFIG, CHECKPOINT)):
        raise InfominError(f"{flag} {path} is the {path.name} of the run in {folder}; writing there would replace "
                           "it: choose another file name")


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
