"""One declared valid range per numeric option, checked once at the boundary.

`RANGES` maps an option's name (the Python name: `probe_epochs` is `--probe-epochs`) to the values
it accepts. Two places read it, so a flag and a preset can never disagree:

- the CLI (`cli.py`) checks every numeric option of every command whose name is listed here, as
  Click parses it, before the command body runs and so before anything is read or written;
- `engine.run.validate` checks the numeric fields of a `RunConfig` (flags, presets, paper scale).

A new option joins by adding one line here. Checks that relate two values (KSG samples > k,
`--negatives` >= the batch, an image size the encoder can take) stay with the code that knows
both values and run right after these.
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
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"a finite number above {self.low:g}" if self.low_open else f"at least {self.low:g}"
        if self.high is not None:
            return f"below {self.high:g}" if self.high_open else f"at most {self.high:g}"
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


AT_LEAST_1 = Range(1)
POSITIVE = Range(0, low_open=True)
FRACTION_BELOW_1 = Range(0, 1, high_open=True)

RANGES: dict[str, Range] = {
    # training (RunConfig fields and the shared flags of pretrain / sweep)
    "epochs": AT_LEAST_1,
    "batch_size": Range(2, hint="contrastive losses need another sample in the batch"),
    "feat_dim": AT_LEAST_1,
    "temperature": Range(0, low_open=True, hint="e.g. 0.07"),
    "lr": Range(0, low_open=True, hint="e.g. 0.002 with adam"),
    "weight_decay": Range(0),
    "sgd_momentum": FRACTION_BELOW_1,
    "key_momentum": Range(0, 1, high_open=True, hint="e.g. 0.999"),
    "queue": AT_LEAST_1,
    "bank_negatives": AT_LEAST_1,
    "jigsaw_beta": Range(0, 1, hint="the paper uses 0.5"),
    "image_size": AT_LEAST_1,
    "limit": AT_LEAST_1,
    "seed": Range(0),
    # sweep
    "seeds": AT_LEAST_1,
    "probe_epochs": AT_LEAST_1,
    "seg_epochs": AT_LEAST_1,
    "negatives": AT_LEAST_1,
    # probe, views show, datasets show
    "seg_size": AT_LEAST_1,
    "n": AT_LEAST_1,
    "scale": AT_LEAST_1,  # datasets show's pixel upscaling (pretrain's --scale is a name, never checked here)
    # mi-estimate
    "dim": AT_LEAST_1,
    "steps": AT_LEAST_1,
    "eval_batches": AT_LEAST_1,
    "clip": POSITIVE,
    "ksg_samples": Range(4, hint="KSG with k = 3 needs more than 3"),
    "threads": AT_LEAST_1,
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
