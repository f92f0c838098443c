"""What every view family declares, so that `pretrain`, `sweep` and `infomin views` are generic.

A *family* (e.g. `infomin-aug`) owns one or more *knobs* (e.g. `crop-scale`), each with its type,
valid range, the paper's default and the paper section it comes from. Building a family with knob
values gives a `ViewPair`: a callable that turns a uint8 batch on any device into two float views,
drawing per-sample random parameters from a seeded `torch.Generator` on that device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from infomin_cli.errors import InfominError
from infomin_cli.registry import Registry

KnobValue = float | int | str


@dataclass(frozen=True)
class Knob:
    """One strength parameter of a view family."""

    name: str
    kind: str  # "float" | "int" | "choice" | "text" (e.g. a folder; `check` validates and normalises it)
    default: KnobValue
    section: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    log: bool = False  # sweeps over this knob are usually log-spaced
    check: Callable[[str], str] | None = None  # text knobs: raises InfominError, or returns the canonical value

    def range_text(self) -> str:
        if self.kind == "choice":
            return ",".join(self.choices)
        if self.kind == "text":
            return "text"
        return f"[{self.low:g}, {self.high:g}]"

    def parse(self, text: str | KnobValue) -> KnobValue:
        """Turn a user's string (or a preset's value) into a validated value of this knob."""
        if self.kind == "choice":
            value = str(text)
            if value not in self.choices:
                raise InfominError(
                    f"knob {self.name}={value!r} is not valid; choose one of: {', '.join(self.choices)}"
                )
            return value
        if self.kind == "text":
            value = str(text).strip()
            if not value:
                raise InfominError(f"knob {self.name} is empty; {self.help}")
            return self.check(value) if self.check else value
        try:
            number = float(text)
        except (TypeError, ValueError):
            raise InfominError(f"knob {self.name}={text!r} is not a number; valid range {self.range_text()}") from None
        if not math.isfinite(number) or (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise InfominError(f"knob {self.name}={text} is out of range; valid range {self.range_text()}")
        if self.kind == "int":
            if number != int(number):
                raise InfominError(f"knob {self.name}={text} must be a whole number in {self.range_text()}")
            return int(number)
        return number


class ViewPair(Protocol):
    """Two views of a batch. `channels` gives the encoders' input channels for v1 and v2."""

    channels: tuple[int, int]
    shared_encoder: bool

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B,C,H,W) on any device -> two float views on the same device."""
        ...

    def probe_inputs(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Deterministic encoder inputs for frozen-feature probes: one tensor per encoder."""
        ...


# What some pairs offer beyond `ViewPair`; generic code asks `isinstance(pair, ...)`. (Crops cut
# from a streamed folder's original photos, `stream_crops`, are asked for by the reader itself:
# `data.source.CropsOriginals`.)


@runtime_checkable
class HasJigsaw(Protocol):
    """A pair that also cuts JigSaw tiles (InfoMin Aug.'s last rung); `has_jigsaw` says whether it does now."""

    has_jigsaw: bool

    def jigsaw_tiles(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


@runtime_checkable
class SavesFiles(Protocol):
    """A pair that reads files (learned views: a generator) and keeps a copy with the run it trains,
    so the family's `from_run` rebuilds it from the run folder alone."""

    def save_to(self, folder: Path) -> None: ...


@runtime_checkable
class ShowsSequences(Protocol):
    """A pair of frame sequences, shown by `views show` as one sequence a row with its views."""

    def sheet(self, images: torch.Tensor, scale: int = 3) -> Any: ...


@dataclass(frozen=True)
class ViewFamily:
    name: str
    summary: str
    section: str
    knobs: tuple[Knob, ...]
    build: Callable[[dict[str, KnobValue], int], ViewPair]  # (knob values, output size) -> ViewPair
    data_kind: str = "images"  # "images" or "highres" (patch families want large images)
    image_size: int | None = None  # encoder input size when neither flag nor dataset sets one
    pairs_per_patch_area: float | None = None  # patches: pairs per epoch per image_size² of stored image
    aliases_of: str | None = None  # e.g. lab-split is colorspace-split with space=lab
    fixed: Mapping[str, KnobValue] = field(default_factory=dict)
    # views that read files (learned views: a generator) save a copy into the run folder when training
    # starts (`pair.save_to(folder)`); `from_run(folder, knobs, size)` rebuilds them from that copy alone
    from_run: Callable[[Path, Mapping[str, Any], int], ViewPair] | None = None

    def pairs_per_image(self, height: int, width: int, image_size: int) -> int:
        """View pairs an epoch draws from each stored image: one for whole-image views; for patch
        views, in proportion to how many patches the image holds (16 from a 512 px DIV2K crop with
        64 px patches, 1 from a 32 px embedded image with 16 px patches)."""
        if self.pairs_per_patch_area is None:
            return 1
        return max(1, round(self.pairs_per_patch_area * height * width / image_size**2))

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        valid = ", ".join(k.name for k in self.knobs) or "none"
        raise InfominError(f"view {self.name!r} has no knob {name!r}; its knobs: {valid}")

    def resolve(self, given: Mapping[str, Any] | None) -> dict[str, KnobValue]:
        """Fill in defaults and validate every given knob."""
        values: dict[str, KnobValue] = {k.name: k.default for k in self.knobs}
        for name, raw in (given or {}).items():
            if name in self.fixed:  # a resolved config hands fixed knobs back; they must not change
                if str(raw) != str(self.fixed[name]):
                    raise InfominError(f"view {self.name!r} fixes {name}={self.fixed[name]}; use {self.aliases_of} to vary it")
                continue
            values[name] = self.knob(name).parse(raw)
        values.update(self.fixed)
        for knob in self.knobs:  # a text knob without a default (learned views' generator) must be given
            if knob.kind == "text" and not values[knob.name]:
                raise InfominError(f"{self.name} views need --knob {knob.name}=...: {knob.help}")
        return values

    def make(self, given: Mapping[str, Any] | None, image_size: int) -> ViewPair:
        return self.build(self.resolve(given), image_size)


VIEWS: Registry[ViewFamily] = Registry("view")


def register_family(family: ViewFamily) -> ViewFamily:
    return VIEWS.add(family.name, family)
