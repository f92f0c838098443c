"""A sweep as a list of fully resolved points (and the probe task's reference points per seed).

Every point carries its own RunConfig and hash; the hash (not the point's position) is what links a
point to its run folder and to its row in the CSV, so a sweep can be stopped, edited (more values,
more seeds) and rerun without redoing or mislabelling anything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from infomin_cli.config import RunConfig
from infomin_cli.sweep.spec import format_value

if TYPE_CHECKING:
    from infomin_cli.views.base import KnobValue, ViewFamily


@dataclass(frozen=True)
class SweepPoint:
    knob: str
    value: KnobValue
    seed: int
    config: RunConfig
    config_hash: str
    run_dir: Path

    @property
    def name(self) -> str:
        return f"{self.knob}={format_value(self.value)} seed {self.seed}"


def plan_points(
    base: RunConfig, family: ViewFamily, knob: str, values: list[KnobValue], seeds: int, runs_dir: str | os.PathLike[str]
) -> list[SweepPoint]:
    """Seed-major order: the whole curve for the first seed comes first, so a half-run sweep is
    already a (noisier) curve rather than a few points with many seeds.

    Each config goes through the trainer's own `validate` (knob, dataset and size defaults filled
    in), so the hash here is the hash the run saves and the probe writes.
    """
    from infomin_cli.runs import config_hash, validate  # torch-heavy; a GPU worker only needs the points

    points = []
    for offset in range(seeds):
        seed = base.seed + offset
        for value in values:
            config = base.merged({"views": family.name, "seed": seed})
            config = validate(RunConfig.from_dict({**config.to_dict(), "knobs": {**base.knobs, knob: value}}))
            digest = config_hash(config)
            name = re.sub(r"[^\w.@+=-]+", "_", format_value(value))  # a folder-valued knob (generator=views/x@4)
            folder = Path(runs_dir) / f"{knob}-{name}-seed{seed}-{digest}"
            points.append(SweepPoint(knob, value, seed, config, digest, folder))
    return points


def reference_points(points: list[SweepPoint], runs_dir: str | os.PathLike[str],
                     kinds: tuple[str, ...]) -> list[SweepPoint]:
    """The probe task's reference points, one of each kind per seed (a factors sweep: the untrained
    architecture, which says what a probe recovers before any training, and the same architecture
    trained on each factor's labels). Each carries the seed's config (architecture, data, steps);
    its hash is its own, so its rows never pass for a contrastive point's, and it leaves out the
    swept knob: the reference is the same whichever value the knob takes."""
    import dataclasses
    import hashlib

    from infomin_cli.runs import config_hash

    out, seen = [], set()
    for point in points:
        if point.seed in seen:
            continue
        seen.add(point.seed)
        unshared = dataclasses.replace(point.config, knobs={})
        for kind in kinds:
            digest = hashlib.sha256(f"{kind}:{config_hash(unshared)}".encode()).hexdigest()[:16]
            folder = Path(runs_dir) / f"{point.knob}-{kind}-seed{point.seed}-{digest}"
            out.append(SweepPoint(point.knob, kind, point.seed, point.config, digest, folder))
    return out
