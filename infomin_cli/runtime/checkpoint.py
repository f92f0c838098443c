"""One way to save and resume a training loop: the trainer, the segmentation decoder, the linear protocol.

Model, optimiser, schedule, generator and epoch are written together, atomically, and restored
together (DINO's `restart_from_checkpoint`): a loop that brought back its weights but not its
schedule or its generator would continue with another learning rate or other draws than an
uninterrupted run, and nothing would say so. Files are read through `run_files`, so a truncated
or foreign one is named in one line like every other run file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from infomin_cli.atomic import atomic_torch_save
from infomin_cli.run_files import damaged, load_state, read_checkpoint

# A part: anything with state_dict / load_state_dict (module, optimiser, schedule), a torch.Generator,
# or a mapping of such parts by name (several optimisers).
Part = Any
WHAT = {"optimizer": "optimiser state", "optimizers": "optimiser state", "schedules": "schedule",
        "objective": "objective state"}  # how a part is named when it does not fit


def state_of(part: Part) -> Any:
    if isinstance(part, torch.Generator):
        return part.get_state()
    if isinstance(part, Mapping):
        return {name: state_of(value) for name, value in part.items()}
    return part.state_dict()


def save_checkpoint(path: Path, parts: Mapping[str, Part], epoch: int, **extra: Any) -> None:
    """Every part's state, the number of finished epochs and `extra` facts (wall time, settings), in one atomic file."""
    atomic_torch_save(path, {**{name: state_of(part) for name, part in parts.items()}, "epoch": epoch, **extra})


def restore_checkpoint(path: Path, parts: Mapping[str, Part], state: Mapping[str, Any] | None = None,
                       way_out: str | None = None) -> dict[str, Any]:
    """Load every part from the checkpoint at `path` (or from its `state`, already read there);
    returns the state with `epoch` as an int. A missing, misfitting or unreadable part is one
    line naming the file."""
    state = dict(read_checkpoint(path, (*parts, "epoch"), way_out) if state is None else state)
    missing = [name for name in (*parts, "epoch") if name not in state]
    if missing:
        raise damaged(path, f"incomplete: no {missing[0]!r}", way_out)
    for name, part in parts.items():
        _load(part, state[name], path, WHAT.get(name, name), way_out)
    try:
        state["epoch"] = int(state["epoch"])
    except (TypeError, ValueError) as exc:
        raise damaged(path, f"its epoch is unreadable: {type(exc).__name__}", way_out) from None
    return state


def _load(part: Part, saved: Any, path: Path, what: str, way_out: str | None) -> None:
    if isinstance(part, torch.Generator):
        try:
            part.set_state(saved.to(part.get_state().device))
        except (AttributeError, TypeError, ValueError, RuntimeError) as exc:
            raise damaged(path, f"its generator state is unreadable: {type(exc).__name__}", way_out) from None
    elif isinstance(part, Mapping):
        if not isinstance(saved, Mapping) or set(saved) != set(part):
            raise damaged(path, f"its {what} does not fit config.yaml: saved for {sorted(saved) if isinstance(saved, Mapping) else type(saved).__name__}", way_out)
        for name, value in part.items():
            _load(value, saved[name], path, what, way_out)
    else:
        load_state(part, saved, path, what, way_out)
