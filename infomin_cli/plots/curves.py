"""From results rows to reverse-U points: one (x, y) mean ± standard error per knob value per series.

Kept apart from the drawing so the statistics (which rows count, how seeds are pooled, which
point is the sweet spot) can be tested without matplotlib, and reused by anything that reports
a sweep as numbers rather than a figure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from infomin_cli.errors import InfominError
from infomin_cli.results.table import read_results

# Names a user may type for the usual probe metric, tried in order against metric_name.
METRIC_ALIASES = {"accuracy": ("accuracy", "top1", "acc"), "acc": ("acc", "top1", "accuracy")}
LOWER_IS_BETTER = ("rmse", "mae", "mse", "error", "loss")
# When one of these differs between rows, the rows belong to different curves even if not asked.
ALWAYS_SPLIT = ("views", "knob_name", "probe_layer")


@dataclass(frozen=True)
class Curves:
    """Aggregated points plus what the figure needs to describe them."""

    points: pd.DataFrame  # series, knob_name, knob_value, order, x, x_se, y, y_se, n
    x_label: str
    y_label: str
    title: str
    higher_is_better: bool

    def sweet_spots(self) -> pd.DataFrame:
        """The best mean point of each series (max accuracy, or min for error-like metrics)."""
        pick = "idxmax" if self.higher_is_better else "idxmin"
        index = self.points.groupby("series", sort=False)["y"].agg(pick)
        return self.points.loc[index.values]


def load_curves(
    paths: Sequence[str | os.PathLike[str]],
    y: str = "top1",
    x: str = "i_nce",
    label: str | None = None,
    group_by: Sequence[str] = (),
    declared_choices: Callable[[str, str], Sequence[str]] | None = None,
) -> Curves:
    """Read one or more results CSVs and pool the rows of each knob value across seeds.

    `declared_choices(views, knob)` gives a categorical knob's declared order (the augmentation
    ladder's rungs); the CLI passes the view registry's, so this module needs no view code."""
    if not paths:
        raise InfominError("give at least one results CSV")
    estimator = _x_estimator(x)
    required = ("knob_value", "metric_name", "metric_value", *group_by)
    required += ("run_id",) if estimator else ("i_nce",)
    frame = pd.concat([read_results(p, required=required) for p in paths], ignore_index=True)
    frame["metric_name"] = frame["metric_name"].astype(str)

    metric = _pick_metric(frame, y, paths)
    rows = frame[frame["metric_name"] == metric].copy()
    rows = _pick_label(rows, label)
    if "run_id" in rows.columns:  # a probe re-run on the same run replaces, not duplicates
        keys = ["run_id"] + [c for c in ("probe_label", "probe_layer") if c in rows.columns]
        rows = rows.drop_duplicates(subset=keys, keep="last")

    if estimator:
        rows["x"] = rows["run_id"].map(_estimates(frame, estimator))
        rows = rows[rows["x"].notna()]
        if rows.empty:
            raise InfominError(f"no {x} rows share a run_id with the {metric} rows; run `infomin mi-estimate` first")
    else:
        rows["x"] = pd.to_numeric(rows["i_nce"], errors="coerce")
    rows["y"] = pd.to_numeric(rows["metric_value"], errors="coerce")
    rows = rows[rows["x"].notna() & rows["y"].notna()]
    if rows.empty:
        raise InfominError(f"the {metric} rows in {', '.join(map(str, paths))} have no numeric {x} and metric_value")

    split = [c for c in group_by]
    split += [c for c in ALWAYS_SPLIT if c in rows.columns and c not in split and rows[c].nunique(dropna=False) > 1]
    rows["series"] = rows.apply(lambda r: _series_name(r, split), axis=1) if split else ""
    if "knob_name" not in rows.columns:
        rows["knob_name"] = ""
    rows["knob_name"] = rows["knob_name"].fillna("").astype(str)

    points = _aggregate(rows, declared_choices)
    return Curves(
        points=points,
        x_label=_x_label(x, frame, estimator),
        y_label=_y_label(metric, rows),
        title=_title(rows),
        higher_is_better=not any(word in metric.lower() for word in LOWER_IS_BETTER),
    )


def _x_estimator(x: str) -> str | None:
    if x == "i_nce":
        return None
    if x.startswith("mi:") and len(x) > 3:
        return x
    raise InfominError(f"--x {x!r} is not valid; use i_nce or mi:<estimator> (e.g. mi:infonce)")


def _pick_metric(frame: pd.DataFrame, y: str, paths: Sequence[object]) -> str:
    present = list(dict.fromkeys(frame["metric_name"]))
    for name in METRIC_ALIASES.get(y, (y,)):
        if name in present:
            return name
    names = ", ".join(m for m in present if not m.startswith("mi:")) or "none"
    raise InfominError(f"no rows with metric_name {y!r} in {', '.join(map(str, paths))}; metrics there: {names}")


def _pick_label(rows: pd.DataFrame, label: str | None) -> pd.DataFrame:
    labels = rows["probe_label"].astype(object).fillna("").astype(str)  # absent in a file: all empty
    if not (labels != "").any():
        if label:
            raise InfominError(f"--label {label} given, but the CSV has no probe_label values")
        return rows
    present = sorted(set(labels))
    if label is None:
        if len(present) <= 1:
            return rows
        if "class" not in present:
            raise InfominError(f"rows probe several labels ({', '.join(present)}); pick one with --label")
        label = "class"
    if label not in present:
        raise InfominError(f"no rows with probe_label {label!r}; labels there: {', '.join(present)}")
    return rows[labels == label]


def _estimates(frame: pd.DataFrame, estimator: str) -> pd.Series:
    """run_id -> the last `mi:<estimator>` estimate of that run."""
    found = frame[frame["metric_name"] == estimator]
    if found.empty:
        names = sorted({m for m in frame["metric_name"] if m.startswith("mi:")})
        raise InfominError(f"no {estimator} rows to use as x; estimates there: {', '.join(names) or 'none'}")
    values = pd.to_numeric(found["metric_value"], errors="coerce")
    return values.groupby(found["run_id"]).last()


def _series_name(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c}={_text(row[c])}" for c in columns)


def _text(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value)


def _aggregate(rows: pd.DataFrame, declared_choices: Callable[[str, str], Sequence[str]] | None) -> pd.DataFrame:
    """Mean and standard error over seeds of each (series, knob value), in knob order."""
    rows = rows.assign(value_text=rows["knob_value"].map(_text))
    out = []
    for series, group in rows.groupby("series", sort=False):
        order = _knob_order(group, declared_choices)
        for (knob_name, value), point in group.groupby(["knob_name", "value_text"], sort=False):
            n = len(point)
            out.append(
                {
                    "series": series,
                    "knob_name": knob_name,
                    "knob_value": value,
                    "order": order[value],
                    "x": point["x"].mean(),
                    "x_se": _se(point["x"]),
                    "y": point["y"].mean(),
                    "y_se": _se(point["y"]),
                    "n": n,
                }
            )
    points = pd.DataFrame(out)
    return points.sort_values(["series", "order"], kind="stable").reset_index(drop=True)


def _se(values: pd.Series) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def _knob_order(group: pd.DataFrame, declared_choices: Callable[[str, str], Sequence[str]] | None) -> dict[str, int]:
    """Numbers by value; names in the family's declared order when known, else as first written."""
    texts = list(dict.fromkeys(group["value_text"]))
    numbers = pd.to_numeric(pd.Series(texts), errors="coerce")
    if numbers.notna().all():
        ranked = sorted(zip(numbers, texts, strict=True))
        return {text: i for i, (_, text) in enumerate(ranked)}
    declared: list[str] = []
    if declared_choices is not None and "views" in group.columns and group["knob_name"].iloc[0]:
        declared = list(declared_choices(str(group["views"].iloc[0]), str(group["knob_name"].iloc[0])))
    ranked = sorted(texts, key=lambda t: (declared.index(t) if t in declared else len(declared), texts.index(t)))
    return {text: i for i, text in enumerate(ranked)}


def _x_label(x: str, frame: pd.DataFrame, estimator: str | None) -> str:
    if not estimator:
        return r"held-out $I_{NCE}(v_1; v_2)$ (nats)"
    units = frame.loc[frame["metric_name"] == estimator, "unit"] if "unit" in frame.columns else pd.Series()
    unit = next((str(u) for u in units if isinstance(u, str) and u), "nats")
    return f"$I(v_1; v_2)$ estimated by {estimator[3:]} ({unit})"


def _y_label(metric: str, rows: pd.DataFrame) -> str:
    names = {"top1": "top-1 accuracy", "top5": "top-5 accuracy", "miou": "mean IoU", "pixel_acc": "pixel accuracy",
             "rmse": "RMSE"}
    unit = next((str(u) for u in rows.get("unit", pd.Series(dtype=object)) if isinstance(u, str) and u), "")
    label = names.get(metric.lower(), metric)
    if "probe_label" in rows.columns:
        probe = next((str(v) for v in rows["probe_label"] if isinstance(v, str) and v), "")
        if probe and probe != "class":
            label = f"{label} ({probe} probe)"
    return f"{label} ({unit})" if unit else label


def _title(rows: pd.DataFrame) -> str:
    def values(column: str) -> str:
        if column not in rows.columns:
            return ""
        return ", ".join(str(v) for v in dict.fromkeys(rows[column].dropna().astype(str)) if v)

    parts = [values("dataset"), values("views"), f"sweeping {values('knob_name')}" if values("knob_name") else ""]
    return " · ".join(p for p in parts if p) or "reverse-U"


def shape_report(curves: Curves) -> list[str]:
    """One line per series: is it a reverse-U, and does I_NCE move monotonically with the knob?

    "Reverse-U" here is the issue's bar: the best mean is at an interior knob value and beats each
    end by more than 2 standard errors of the difference, sqrt(se_best^2 + se_end^2). A categorical
    knob (colour spaces) has no ends of its own; its values are ordered by I_NCE, as in paper B.2.
    """
    lines = []
    for series, group in curves.points.groupby("series", sort=False):
        group = group.sort_values("order")
        name = f"[{series}] " if series else ""
        if len(group) < 3:
            lines.append(f"{name}{len(group)} knob values: too few for a shape")
            continue
        sign = 1 if curves.higher_is_better else -1
        best = group.loc[(sign * group["y"]).idxmax()]
        categorical = not all(_is_number(v) for v in group["knob_value"])
        if categorical:  # e.g. colour spaces: the declared order has no ends, so judge along I_NCE (paper B.2)
            group = group.sort_values("x")
        margins = []
        for end in (group.iloc[0], group.iloc[-1]):
            gap = sign * (best["y"] - end["y"])
            se = math.hypot(best["y_se"], end["y_se"])
            margins.append(f"{end['knob_value']}: +{gap:.2f} ({gap / se:.1f} s.e.)" if se > 0 else
                           f"{end['knob_value']}: +{gap:.2f}")
        interior = best["knob_value"] not in (group.iloc[0]["knob_value"], group.iloc[-1]["knob_value"])
        clears = interior and all(
            sign * (best["y"] - end["y"]) > 2 * math.hypot(best["y_se"], end["y_se"])
            for end in (group.iloc[0], group.iloc[-1])
        )
        verdict = "reverse-U (> 2 s.e. above both ends)" if clears else (
            "interior maximum, not 2 s.e. above both ends" if interior else "no interior maximum")
        if categorical:
            lines.append(f"{name}categorical knob, ends = lowest and highest I_NCE: {verdict}; best "
                         f"{best['knob_name']}={best['knob_value']} beats ends by {', '.join(margins)}")
            continue
        x = group["x"].to_numpy()
        steps = [b - a for a, b in zip(x[:-1], x[1:], strict=True)]
        trend = ("rises" if all(s > 0 for s in steps) else "falls" if all(s < 0 for s in steps) else "is not monotonic")
        lines.append(f"{name}{verdict}; best {best['knob_name']}={best['knob_value']} beats ends by "
                     f"{', '.join(margins)}; I_NCE {trend} as the knob increases")
    return lines


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True
