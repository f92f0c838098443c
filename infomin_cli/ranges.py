"""One declared valid range per numeric option, checked once at the boundary.

`RANGES` maps an option's name (the Python name: `probe_epochs` is `--probe-epochs`) to the values
it accepts. Two places read it, so a flag and a preset can never disagree:

- the CLI (`cli.py`) checks every numeric option of every command whose name is listed here, as
  Click parses it, before the command body runs and so before anything is read or written;
- `runs.validate` checks the numeric fields of a `RunConfig` (flags, presets, paper scale).

A new general option joins by adding one line here; a method's own options carry their range on
their declaration (`options.Option`), where the method declares them. Checks that relate two values (`--negatives` >= the
batch, an image size the encoder can take, a MoCo queue that is a multiple of the batch) stay with
the code that knows both values and run right after these. (KSG's k is fixed at 3, so "samples
> k" is a plain range.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infomin_cli.errors import InfominError


@dataclass(frozen=True)
class Range:
    """Allowed values: `low` <= x (or < with `low_open`), x <= `high` (or < with `high_open`),
    always finite. `hint` follows the error, e.g. what the paper uses."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    hint: str = ""

    def describe(self) -> str:
        low, high = _show(self.low), _show(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"a finite number above {low}" if self.low_open else f"at least {low}"
        if self.high is not None:
            return f"below {high}" if self.high_open else f"at most {high}"
        return "a finite number"

    def contains(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return not (self.high is not None and (x >= self.high if self.high_open else x > self.high))

    def check(self, flag: str, value: Any) -> None:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise InfominError(f"{flag} {value!r} is not a number; it must be {self.describe()}") from None
        if not self.contains(x):
            hint = f" ({self.hint})" if self.hint else ""
            raise InfominError(f"{flag} {value} is not valid; it must be {self.describe()}{hint}")


def _show(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


AT_LEAST_1 = Range(1)
POSITIVE = Range(0, low_open=True)
FRACTION_BELOW_1 = Range(0, 1, high_open=True)
# Upper ends where a larger value is a typo that would fill memory or overflow a seed, not a setting:
# they sit far above the paper's largest (240-3000 epochs, a 65,536 queue, 224 px, 16,384 negatives).
EPOCHS = Range(1, 1_000_000)
SIZE = Range(1, 8192)
MANY = Range(1, 1 << 24)

RANGES: dict[str, Range] = {
    # training (RunConfig fields and the shared flags of pretrain / sweep)
    "epochs": EPOCHS,
    "batch_size": Range(2, 1 << 24, hint="contrastive losses need another sample in the batch"),
    "feat_dim": Range(1, 1 << 16),
    "temperature": Range(0, low_open=True, hint="e.g. 0.07"),
    "lr": Range(0, low_open=True, hint="e.g. 0.002 with adam"),
    "weight_decay": Range(0),
    "sgd_momentum": FRACTION_BELOW_1,
    "image_size": SIZE,
    "limit": AT_LEAST_1,
    "seed": Range(0, 2**32 - 1, hint="torch and numpy seeds are 32-bit here"),
    "workers": Range(0, 1024, hint="0 decodes in the training process"),
    # learn-views' knob of the colour-space split (the view learner's own options are declared on it)
    "crop_scale": Range(0, 1, low_open=True, hint="CMC: 0.2"),
    # sweep
    "seeds": Range(1, 10_000),
    "probe_epochs": EPOCHS,
    "seg_epochs": EPOCHS,
    "negatives": MANY,
    "gpus_per_point": Range(1, 1024),
    "jobs": Range(1, 256, hint="worker processes, e.g. the number of CPU cores"),
    # probe, views show, datasets show
    "seg_size": SIZE,
    "n": AT_LEAST_1,
    "scale": Range(1, 64),  # datasets show's pixel upscaling (pretrain's --scale is a name, never checked here)
    # mi-estimate
    "dim": Range(1, 1 << 16),
    "steps": Range(1, 100_000_000),
    "eval_batches": Range(1, 1_000_000),
    "clip": POSITIVE,
    "ksg_samples": Range(4, 10_000_000, hint="KSG with k = 3 needs more than 3"),
    "threads": Range(1, 4096),
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check(name: str, value: Any) -> None:
    """Check one option's value (None: not given, nothing to check)."""
    if value is None or isinstance(value, bool) or name not in RANGES:
        return
    RANGES[name].check(flag(name), value)


def check_fields(values: Mapping[str, Any]) -> None:
    """Check every numeric field of a config-like mapping that has a declared range."""
    for name, value in values.items():
        if name in RANGES and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InfominError(f"{flag(name)} {value!r} is not a number; it must be {RANGES[name].describe()}")
            check(name, value)
