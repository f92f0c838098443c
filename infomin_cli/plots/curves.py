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

    def best_points(self) -> pd.DataFrame:
        """The best mean point of each series (max accuracy, or min for error-like metrics)."""
        pick = "idxmax" if self.higher_is_better else "idxmin"
        index = self.points.groupby("series", sort=False)["y"].agg(pick)
        return self.points.loc[index.values]

    def sweet_spots(self) -> pd.DataFrame:
        """The best point of each series whose curve clears the bar (`Shape.clears`); the others have none."""
        clearing = {shape.series for shape in shapes(self) if shape.clears}
        best = self.best_points()
        return best[best["series"].isin(clearing)]


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


BAR = 2.0  # standard errors of the difference by which a sweet spot beats each end


@dataclass(frozen=True)
class Shape:
    """One series' curve judged by the bar: a sweet spot is the best mean at an interior knob value
    that beats each end by more than `BAR` standard errors of the difference, sqrt(se_best^2 +
    se_end^2). A categorical knob (colour spaces) has no ends of its own: its values are ordered by
    I_NCE, as paper B.2 plots them, and its ends are the lowest and highest I_NCE."""

    series: str
    knob_name: str
    values: int  # knob values on the curve
    categorical: bool
    best: pd.Series | None = None
    ends: tuple[pd.Series, ...] = ()  # low end, high end
    gaps: tuple[float, ...] = ()  # best - end, positive where the best is better
    margins: tuple[float, ...] = ()  # gap / s.e. of the difference; nan where there is no s.e. (one seed)
    trend: str = ""  # how I_NCE moves as the knob increases

    @property
    def interior(self) -> bool:
        return self.best is not None and all(self.best["knob_value"] != end["knob_value"] for end in self.ends)

    @property
    def clears(self) -> bool:
        return self.interior and all(margin > BAR for margin in self.margins)  # nan > BAR is False

    @property
    def verdict(self) -> str:
        if self.best is None:
            return f"{self.values} knob values: too few for a shape"
        if not self.interior:
            return "no interior maximum"
        if any(math.isnan(margin) for margin in self.margins):
            return "interior maximum, no standard error (one seed per value) to test it by"
        return ("reverse-U (> 2 s.e. above both ends)" if self.clears
                else "interior maximum, not 2 s.e. above both ends")

    def caption(self) -> str:
        """The figure's line for this curve: its sweet spot and by how much it clears the bar, or
        why it has none."""
        if self.best is None:
            return f"no shape: {self.values} knob value{'s' if self.values != 1 else ''}, a shape needs 3"
        best = f"{self.knob_name} = {short_value(self.best['knob_value'])}" if self.knob_name else (
            short_value(self.best["knob_value"]))
        if not self.interior:
            return f"no sweet spot: the best mean, {best}, is an end of the sweep"
        if any(math.isnan(margin) for margin in self.margins):
            return f"no sweet spot test: one seed per value, no s.e. (best {best})"
        where = (" (lowest I_NCE)", " (highest I_NCE)") if self.categorical else ("", "")
        over = ", ".join(f"{'+' if margin >= 0 else ''}{margin:.1f} s.e. over {short_value(end['knob_value'])}{note}"
                         for end, margin, note in zip(self.ends, self.margins, where, strict=True))
        if self.clears:
            return f"sweet spot {best}: {over}"
        return f"no sweet spot: best {best} is {over}; the bar is > {BAR:g} over both"


def short_value(value: object) -> str:
    """Knob values as labels: 3 significant digits (log-spaced points print as 0.757858 otherwise)."""
    try:
        return f"{float(str(value)):.3g}"
    except ValueError:
        return str(value)


def shapes(curves: Curves) -> list[Shape]:
    """The shape of every series, in series order."""
    out = []
    sign = 1 if curves.higher_is_better else -1
    for series, group in curves.points.groupby("series", sort=False):
        group = group.sort_values("order")
        knob = str(group["knob_name"].iloc[0])
        categorical = not all(_is_number(v) for v in group["knob_value"])
        if len(group) < 3:
            out.append(Shape(series, knob, len(group), categorical))
            continue
        best = group.loc[(sign * group["y"]).idxmax()]
        x = group["x"].to_numpy()
        steps = [b - a for a, b in zip(x[:-1], x[1:], strict=True)]
        trend = ("rises" if all(s > 0 for s in steps) else "falls" if all(s < 0 for s in steps) else "is not monotonic")
        if categorical:  # the declared order has no ends: judge along I_NCE (paper B.2)
            group = group.sort_values("x")
        ends = (group.iloc[0], group.iloc[-1])
        gaps = tuple(float(sign * (best["y"] - end["y"])) for end in ends)
        errors = [math.hypot(best["y_se"], end["y_se"]) for end in ends]
        margins = tuple(gap / se if se > 0 else math.nan for gap, se in zip(gaps, errors, strict=True))
        out.append(Shape(series, knob, len(group), categorical, best, ends, gaps, margins, trend))
    return out


def shape_report(curves: Curves) -> list[str]:
    """One line per series: is it a reverse-U by the bar (`Shape`), and does I_NCE move monotonically
    with the knob?"""
    lines = []
    for shape in shapes(curves):
        name = f"[{shape.series}] " if shape.series else ""
        if shape.best is None:
            lines.append(f"{name}{shape.verdict}")
            continue
        margins = ", ".join(
            f"{end['knob_value']}: +{gap:.2f}" + (f" ({margin:.1f} s.e.)" if not math.isnan(margin) else "")
            for end, gap, margin in zip(shape.ends, shape.gaps, shape.margins, strict=True))
        best = f"best {shape.best['knob_name']}={shape.best['knob_value']} beats ends by {margins}"
        if shape.categorical:
            lines.append(f"{name}categorical knob, ends = lowest and highest I_NCE: {shape.verdict}; {best}")
        else:
            lines.append(f"{name}{shape.verdict}; {best}; I_NCE {shape.trend} as the knob increases")
    return lines


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True
