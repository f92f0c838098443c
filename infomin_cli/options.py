"""One declared option of a method, a probe or the view learner, written once where it belongs.

The declaration is the single source: the CLI flag and its help, the check of a given value (type,
range, choices), the fuzz rows of bad input, the listing (`infomin objectives`, `infomin probes`)
and the config hash all follow from it (solo-learn's `method_kwargs`, declared by the method).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from infomin_cli.errors import InfominError
from infomin_cli.ranges import Range


@dataclass(frozen=True)
class Option:
    """`name` is the Python name (`key_momentum`); the flag is `--key-momentum` unless `flag` names
    another (the view learner's `flow_blocks` is `--blocks`). The type is the default's; a bool is a
    switch (`--symmetric/--no-symmetric`)."""

    name: str
    default: Any
    help: str
    range: Range | None = None
    choices: tuple[str, ...] | None = None
    paper: Any = None  # the paper's value, where it gives one (listings show it beside the default)
    flag: str | None = None
    of: type | None = None  # the type when the default is None: the user of the value then chooses it (`help` says how)

    def __post_init__(self) -> None:
        if self.kind not in (bool, int, float, str):
            raise TypeError(f"option {self.name}: default {self.default!r} is not a bool, int, float or str")
        if self.choices is not None and self.default not in self.choices:
            raise TypeError(f"option {self.name}: default {self.default!r} is not one of {self.choices}")

    @property
    def kind(self) -> type:
        return self.of if self.default is None and self.of is not None else type(self.default)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """The value as the option's type, or one line naming the flag and what it accepts."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise InfominError(f"{self.cli_flag} {value!r} is not valid; it is a switch: true or false")
            return value
        if self.kind is str:
            if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
                accepted = f"choose one of: {', '.join(self.choices)}" if self.choices else "give a name"
                raise InfominError(f"{self.cli_flag} {value!r} is not valid; {accepted}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InfominError(f"{self.cli_flag} {value!r} is not a number; it must be {self.describe()}")
        try:
            number = self.kind(value) if not isinstance(value, str) else self.kind(float(value) if self.kind is float
                                                                                 else int(value))
        except (TypeError, ValueError, OverflowError):
            raise InfominError(f"{self.cli_flag} {value!r} is not {'a whole number' if self.kind is int else 'a number'}; "
                               f"it must be {self.describe()}") from None
        if self.kind is int and isinstance(value, float) and not float(value).is_integer():
            raise InfominError(f"{self.cli_flag} {value!r} is not a whole number; it must be {self.describe()}")
        if self.kind is float and not math.isfinite(number):
            raise InfominError(f"{self.cli_flag} {value} is not valid; it must be {self.describe()}")
        if self.range is not None:
            self.range.check(self.cli_flag, number)
        return number

    def describe(self) -> str:
        if self.kind is bool:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        return self.range.describe() if self.range is not None else "a finite number"

    def to_dict(self) -> dict[str, Any]:
        """The declaration as JSON values, so the CLI can build its flags from a cached copy
        (commands/_catalog.py) without importing the modules that declare them."""
        out = dataclasses.asdict(self)
        out["of"] = self.of.__name__ if self.of is not None else None
        out["choices"] = list(self.choices) if self.choices is not None else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Option:
        """The inverse of `to_dict`."""
        kinds = {kind.__name__: kind for kind in (bool, int, float, str)}
        return cls(**{**data, "range": Range(**data["range"]) if data.get("range") is not None else None,
                      "choices": tuple(data["choices"]) if data.get("choices") is not None else None,
                      "of": kinds[data["of"]] if data.get("of") is not None else None})

    def bad_values(self) -> list[str]:
        """Values this option must refuse, as typed on a command line: the fuzz rows follow from these."""
        if self.kind is bool:
            return []  # a switch: --name or --no-name, nothing to mistype
        if self.kind is str:
            return ["''", "nonsense"] if self.choices is not None else []
        bad = ["abc", "nan"]
        if self.kind is int:
            bad.append("1.5")
        if self.range is not None and self.range.low is not None:
            bad.append(_typed(self.range.low - (0 if self.range.low_open else 1)))
        if self.range is not None and self.range.high is not None:
            bad.append(_typed(self.range.high * 2 + 1))
        return bad


def _typed(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def check_options(declared: tuple[Option, ...], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Every declared option with its value (given, else the default), each checked; a given name that
    `owner` does not declare is one line naming the flag and the owner's options."""
    names = {option.name: option for option in declared}
    for name in given:
        if name not in names:
            flags = ", ".join(option.cli_flag for option in declared) or "none"
            raise InfominError(f"{'--' + name.replace('_', '-')} is not an option of {owner} (its options: {flags})")
    return {option.name: option.check(given[option.name]) if option.name in given else option.default
            for option in declared}
