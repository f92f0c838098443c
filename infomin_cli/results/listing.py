"""What runs a folder holds, and how two runs differ: read from their own files and the results CSVs.

Every file is read through `run_files` (a damaged one is named in one line); epochs done come from
metrics.csv (one row per finished epoch), so no checkpoint is loaded to list a folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infomin_cli.config import RunConfig
from infomin_cli.run_files import CONFIG, METRICS, SUMMARY, read_config, read_summary

SKIP = ("generators", "tensorboard", "submitit")  # folders inside a run that hold no runs


@dataclass
class RunInfo:
    folder: Path
    config: RunConfig
    config_hash: str
    epochs_done: int
    summary: dict[str, Any]
    probes: dict[str, float] = field(default_factory=dict)  # "label (metric)" -> the latest value

    def row(self) -> dict[str, Any]:
        """The listing's columns, JSON-ready."""
        knobs = ", ".join(f"{k}={v}" for k, v in sorted(self.config.knobs.items()))
        i_nce = self.summary.get("i_nce")
        return {"run": str(self.folder), "config_hash": self.config_hash, "views": self.config.views, "knobs": knobs,
                "objective": self.config.objective, "encoder": self.config.encoder, "dataset": self.config.dataset,
                "epochs_done": self.epochs_done, "epochs": self.config.epochs,
                "i_nce": None if i_nce is None or not math.isfinite(float(i_nce)) else float(i_nce),
                "log_K": self.summary.get("log_K"), "knn_top1": self.summary.get("knn_top1"), "probes": self.probes}


def run_folders(root: Path) -> list[Path]:
    """`root` itself if it is a run, else every run folder below it (a sweep's points included)."""
    if (root / CONFIG).is_file():
        return [root]
    found = []
    for config in sorted(root.rglob(CONFIG)):
        if not any(part in SKIP for part in config.parent.relative_to(root).parts):
            found.append(config.parent)
    return found


def epochs_done(folder: Path) -> int:
    """Finished epochs: metrics.csv's rows (header excluded); 0 before the first epoch ends."""
    path = folder / METRICS
    if not path.is_file():
        return 0
    lines = [line for line in path.read_bytes().decode(errors="replace").splitlines() if line.strip()]
    return max(0, len(lines) - 1)


def describe(folder: Path, results: list[Any]) -> RunInfo:
    """A run folder's settings, progress, summary and probe values (`results`: `read_probe_rows`'s frames)."""
    from infomin_cli.runs import config_hash

    config = read_config(folder / CONFIG)
    digest = config_hash(config)
    info = RunInfo(folder, config, digest, epochs_done(folder), read_summary(folder / SUMMARY))
    info.probes = probe_results(folder.name, digest, results)
    return info


def read_probe_rows(results: list[Path]) -> list[Any]:
    """Each results CSV read once, for every run folder a listing describes."""
    from infomin_cli.results.table import read_results

    return [read_results(path, required=("run_id", "config_hash", "metric_name", "metric_value")) for path in results]


def probe_results(run_id: str, digest: str, results: list[Any]) -> dict[str, float]:
    """The latest probe value per (label, metric) of this run in the results CSVs' frames (its
    untrained baseline's rows, `run_id+random-init`, are not the run's)."""
    from infomin_cli.results.table import rows_where

    out: dict[str, float] = {}
    for frame in results:
        for _, row in rows_where(frame, {"run_id": run_id, "config_hash": digest}).iterrows():
            metric = str(row["metric_name"])
            if metric.startswith("mi:"):
                continue
            label = str(row.get("probe_label") or "")
            out[f"{label} ({metric})" if label and label != "nan" else metric] = float(row["metric_value"])
    return out


def compare(a: RunConfig, b: RunConfig) -> list[tuple[str, Any, Any]]:
    """(field, a's value, b's value) for every field, knob and method option the two configs set apart."""
    left, right = _flat(a), _flat(b)
    return [(key, left.get(key), right.get(key)) for key in sorted(set(left) | set(right))
            if left.get(key) != right.get(key)]


def _flat(config: RunConfig) -> dict[str, Any]:
    out = {}
    for key, value in config.to_dict().items():
        if key == "knobs":
            out.update({f"knob {k}": v for k, v in value.items()})
        elif key == "methods":
            out.update({f"{config.objective} {k}": v for k, v in config.method_options().items()})
        else:
            out[key] = value
    return out
