"""Turn `sweep KNOB SPEC` into the list of knob values to run, validated by the knob itself.

The knob's own `Knob.parse` is the single source of truth for types and ranges, so a sweep can
never run a value that `pretrain --knob` would refuse; every problem is one `InfominError` line
that says what would have been valid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from infomin_cli.errors import InfominError

if TYPE_CHECKING:  # the views package imports torch; a GPU worker process should not pay for it twice
    from infomin_cli.views.base import Knob, KnobValue, ViewFamily

DEFAULT_POINTS = 6
SPEC_FORMS = "a:b, a:b:n, a:b:n:log, a comma list (v1,v2,...) or one value"


def find_knob(name: str, views: str | None = None) -> tuple[ViewFamily, Knob]:
    """The family that owns knob `name`: the `--views` family when given, else the one declaring it.

    Alias families (e.g. `lab-split`, a fixed `colorspace-split`) are skipped when searching. A
    knob several families share (every family has a `crop-scale`) belongs to the one that declares
    it first, as its main knob (`infomin-aug`); if that still leaves several, the user picks.
    """
    from infomin_cli.views import VIEWS

    if views:
        family = VIEWS.get(views)
        return family, family.knob(name)
    owners = [f for _, f in VIEWS.items() if f.aliases_of is None and any(k.name == name for k in f.knobs)]
    if len(owners) == 1:
        return owners[0], owners[0].knob(name)
    primary = [f for f in owners if f.knobs[0].name == name]
    if len(owners) > 1 and len(primary) == 1:
        return primary[0], primary[0].knob(name)
    if len(owners) > 1:
        names = ", ".join(f.name for f in owners)
        raise InfominError(f"knob {name!r} belongs to several view families ({names}); pick one with --views")
    known = sorted({f"{k.name} ({f.name})" for _, f in VIEWS.items() if f.aliases_of is None for k in f.knobs})
    raise InfominError(f"no view family has a knob {name!r}; sweepable knobs: {', '.join(known) or 'none'}")


def parse_spec(knob: Knob, spec: str, default_points: int = DEFAULT_POINTS) -> list[KnobValue]:
    """`0.08:1.0` -> `default_points` linear points; `a:b:n[:log]`; `x,y,z`; or one value.

    Values keep the order the user wrote (a descending range stays descending); repeats are
    dropped, which matters for int knobs where a dense range rounds onto the same integers.
    """
    text = str(spec).strip()
    if not text:
        raise InfominError(f"empty sweep spec for knob {knob.name}; use {SPEC_FORMS}")
    if ":" in text:
        if knob.kind == "choice":
            raise InfominError(
                f"knob {knob.name} takes names, not a range {text!r}; list them, e.g. {','.join(knob.choices)}"
            )
        values = _range(knob, text, default_points)
    else:
        values = [knob.parse(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise InfominError(f"sweep spec {text!r} names no values for knob {knob.name}; use {SPEC_FORMS}")
    unique: list[KnobValue] = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


def _range(knob: Knob, text: str, default_points: int) -> list[KnobValue]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (2, 3, 4) or not all(parts[:2]):
        raise InfominError(f"sweep spec {text!r} is not valid; use {SPEC_FORMS}")
    low, high = float(knob.parse(parts[0])), float(knob.parse(parts[1]))
    count = default_points
    if len(parts) >= 3:
        try:
            count = int(parts[2])
        except ValueError:
            raise InfominError(f"number of points {parts[2]!r} in {text!r} is not a whole number") from None
        if count < 2:
            raise InfominError(f"a range needs at least 2 points, got {count} in {text!r}")
    spacing = parts[3].lower() if len(parts) == 4 else "lin"
    if spacing not in ("lin", "log"):
        raise InfominError(f"spacing {parts[3]!r} in {text!r} is not valid; use lin or log")
    if spacing == "log" and (low <= 0 or high <= 0):
        raise InfominError(f"log spacing needs both ends above 0, got {text!r}")
    if spacing == "log":
        raw = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / (count - 1)) for i in range(count)]
    else:
        raw = [low + (high - low) * i / (count - 1) for i in range(count)]
    raw[0], raw[-1] = low, high  # the ends exactly as written, not as rounded arithmetic
    if knob.kind == "int":
        return [knob.parse(round(v)) for v in raw]
    return [knob.parse(_tidy(v)) for v in raw]


def _tidy(value: float) -> float:
    """Six significant digits: stable config hashes and readable labels (0.264, not 0.26400000000000001)."""
    return float(f"{value:.6g}")


def format_value(value: KnobValue) -> str:
    """How a knob value is written in labels, run-folder names and the live table."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
