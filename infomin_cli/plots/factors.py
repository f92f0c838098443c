"""Colorful Moving MNIST's Table 1 (paper B.4): which factor the views share vs. what a probe recovers.

Rows are the `shared` settings of the sweep (plus the untrained and supervised references), columns the three
tasks, cells the mean ± standard error over seeds of the probe's error. Errors, not accuracies,
because the position task has no accuracy: its metric is a distance in pixels, so every column is
"lower is better" and the table reads one way. The units differ between columns, so the heatmap
colours each column on its own scale; the numbers in the cells carry the comparison across columns.

The statistics live apart from the drawing (as in curves.py), so they can be tested without
matplotlib and printed as the Markdown table the docs quote.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from infomin_cli.errors import InfominError  # noqa: E402

# the factor probes' layers, and the sweep's reference rows (drawn below a rule in this order)
from infomin_cli.evaluate.probes.factors import FACTOR_LAYERS, REFERENCES  # noqa: E402
from infomin_cli.plots.save import save_png_pdf  # noqa: E402
from infomin_cli.results.table import read_results  # noqa: E402

# the paper's Table 1 rows (views/moving_mnist.py declares the same choices; plots/ does not import views/)
SETTINGS = ("digit", "position", "background", "digit+position", "background+digit", "background+position", "all")


@dataclass(frozen=True)
class Task:
    label: str  # probe_label
    metric: str  # metric_name of its rows
    header: str  # column heading
    digits: int  # decimals shown

    def error(self, value: pd.Series) -> pd.Series:
        """Accuracy rows become error rates; a distance already is one."""
        return 100.0 - value if self.metric == "top1" else value


TASKS = (Task("digit", "top1", "digit error (%)", 1), Task("position", "px_error", "position error (px)", 2),
         Task("background", "top1", "background error (%)", 1))
LAYERS = {"sequence": "probes read the sequence encoder (frames 1–10)",
          "image": "probes read the image encoder (frame 20)"}


@dataclass(frozen=True)
class FactorTable:
    """Mean ± s.e. per (setting, task) for one probe layer."""

    cells: pd.DataFrame  # setting, task, mean, se, n (one row per cell that has data)
    settings: list[str]  # row order
    layer: str
    dataset: str
    views: str  # the view family (families) of its rows: a dataset of the same name goes unsaid in titles

    def cell(self, setting: str, task: Task) -> pd.Series | None:
        found = self.cells[(self.cells["setting"] == setting) & (self.cells["task"] == task.label)]
        return None if found.empty else found.iloc[0]

    def seeds_note(self) -> str:
        counts = sorted(set(int(n) for n in self.cells["n"]))
        if counts == [1]:
            return "one seed (n=1, no error bars)"
        spread = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        return f"mean ± s.e. over {spread} seeds"

    def title(self) -> str:
        where = LAYERS.get(self.layer, f"probes read layer {self.layer}")
        named = f" ({self.dataset})" if self.dataset != self.views else ""
        return f"Colorful Moving MNIST{named}: {where}; {self.seeds_note()}"


def load_factor_table(path: str | os.PathLike[str], layer: str = "sequence") -> FactorTable:
    """The Moving MNIST `shared` rows of one results CSV, pooled over seeds for one probe layer."""
    frame = read_results(path, required=("views", "knob_name", "knob_value", "probe_label", "probe_layer",
                                         "metric_name", "metric_value"))
    text = {c: frame[c].astype(object).fillna("").astype(str) for c in ("views", "knob_name", "knob_value",
                                                                       "probe_label", "probe_layer", "metric_name")}
    ours = text["probe_layer"].isin(FACTOR_LAYERS) & (text["knob_name"] != "")
    if not ours.any():
        raise InfominError(f"{path} has no Colorful Moving MNIST rows (factor probes of layers "
                           f"{', '.join(FACTOR_LAYERS)}); make them with "
                           f"`infomin sweep --preset moving-mnist`")
    rows = frame[ours].assign(**{c: v[ours] for c, v in text.items()})
    present = sorted(set(rows["probe_layer"]) - {""})
    if layer not in present:
        raise InfominError(f"--layer {layer}: {path} has no Moving MNIST probe rows for that layer; "
                           f"choose --layer from: {', '.join(present) or 'none'}")
    rows = rows[rows["probe_layer"] == layer]
    rows = rows.assign(run=_identity(rows), value=pd.to_numeric(rows["metric_value"], errors="coerce"))
    # a re-probe of the same run appends a new row; the last one is the answer
    rows = rows.drop_duplicates(subset=["run", "probe_label", "probe_layer", "metric_name"], keep="last")

    cells = []
    for task in TASKS:
        picked = rows[(rows["probe_label"] == task.label) & (rows["metric_name"] == task.metric)]
        picked = picked[picked["value"].notna()]
        for setting, group in picked.groupby("knob_value", sort=False):
            errors = task.error(group["value"])
            cells.append({"setting": setting, "task": task.label, "mean": float(errors.mean()),
                          "se": _se(errors), "n": len(errors)})
    if not cells:
        wanted = ", ".join(f"{t.label}/{t.metric}" for t in TASKS)
        raise InfominError(f"{path} has Moving MNIST rows for layer {layer}, but none with a probe_label/metric_name "
                           f"of {wanted} and a numeric metric_value; probe the runs with those labels")
    table = pd.DataFrame(cells)
    if set(table["setting"]) <= set(REFERENCES):  # a table of the references alone compares nothing
        raise InfominError(f"{path} has only reference rows ({', '.join(dict.fromkeys(table['setting']))}) for layer "
                           f"{layer}, no point of the sweep; finish the sweep (rerun the same `infomin sweep "
                           f"--preset moving-mnist` command), then plot")
    datasets = [d for d in dict.fromkeys(rows["dataset"].astype(object).fillna("").astype(str)) if d]
    views = ", ".join(dict.fromkeys(rows["views"])) or "?"
    return FactorTable(table, _order(list(dict.fromkeys(table["setting"]))), layer, ", ".join(datasets) or views, views)


def _identity(rows: pd.DataFrame) -> pd.Series:
    """Which run a row belongs to: its config hash, else its run folder, else its setting and seed
    (hand-written rows), so rows without a hash are never collapsed into one."""
    def column(name: str) -> pd.Series:
        return rows[name].astype(object).where(rows[name].notna(), "").astype(str)

    fallback = "knob=" + rows["knob_value"] + "/seed=" + column("seed")
    run = column("run_id").where(column("run_id") != "", fallback)
    return column("config_hash").where(column("config_hash") != "", run)


def _se(values: pd.Series) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def _order(settings: list[str]) -> list[str]:
    """The paper's row order; settings it does not list next, as first seen; the references last."""
    known = [s for s in SETTINGS if s in settings]
    other = [s for s in settings if s not in SETTINGS and s not in REFERENCES]
    return known + other + [s for s in REFERENCES if s in settings]


def cell_text(table: FactorTable, setting: str, task: Task) -> str:
    """'12.3 ± 0.4'; one seed has no s.e., so it says n=1; '–' where the sweep has no row."""
    cell = table.cell(setting, task)
    if cell is None:
        return "–"
    mean = f"{cell['mean']:.{task.digits}f}"
    if int(cell["n"]) == 1:
        return f"{mean} (n=1)"
    text = f"{mean} ± {cell['se']:.{task.digits}f}"
    common = table.cells["n"].mode().max()
    return text if int(cell["n"]) == common else f"{text} (n={int(cell['n'])})"


def markdown(table: FactorTable) -> str:
    """The table as Markdown, for the docs: one line per setting, error cells as on the figure."""
    lines = [f"{table.title()}; lower is better", "",
             "| views share | " + " | ".join(t.header for t in TASKS) + " |",
             "|---|" + "---:|" * len(TASKS)]
    for setting in table.settings:
        lines.append(f"| {setting} | " + " | ".join(cell_text(table, setting, t) for t in TASKS) + " |")
    return "\n".join(lines)


def default_stem(csv: str | os.PathLike[str], layer: str, out: str | os.PathLike[str] | None) -> Path:
    """`--out` without an image suffix, else next to the CSV: results/mm.csv -> results/mm-factors-sequence."""
    if out is not None:
        out = Path(out)
        return out.with_suffix("") if out.suffix.lower() in (".png", ".pdf") else out
    csv = Path(csv)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in layer)  # a layer name never makes a folder
    return csv.with_name(f"{csv.stem}-factors-{safe}")


def write_figure(table: FactorTable, stem: Path) -> list[Path]:
    """Save the heatmap as `stem`.png and `stem`.pdf."""
    return save_png_pdf(draw(table), stem)


def goodness(table: FactorTable) -> np.ndarray:
    """(settings, tasks) in [0, 1]: 1 = the lowest mean error of its column, 0 = the highest, NaN =
    no data. Each column on its own scale, since % and px cannot share one; a column whose cells
    are all equal sits in the middle."""
    means = np.array([[np.nan if (c := table.cell(s, t)) is None else c["mean"] for t in TASKS]
                      for s in table.settings], dtype=float)
    score = np.full_like(means, np.nan)
    for j in range(means.shape[1]):
        column = means[:, j]
        if np.isnan(column).all():
            continue
        low, high = np.nanmin(column), np.nanmax(column)
        score[:, j] = 0.5 if high == low else (high - column) / (high - low)
    return score


def draw(table: FactorTable) -> plt.Figure:
    score = goodness(table)
    rows, cols = score.shape
    figure, axes = plt.subplots(figsize=(7.4, 1.2 + 0.48 * rows))
    cmap = plt.get_cmap("Blues").with_extremes(bad="0.93")  # no data: light grey
    # 0.08..0.85 of the map: the worst cell is still tinted, the best not so dark that text is lost
    axes.imshow(np.ma.masked_invalid(0.08 + 0.77 * score), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    views = np.array([s not in REFERENCES for s in table.settings])
    for i, setting in enumerate(table.settings):
        for j, task in enumerate(TASKS):
            dark = not np.isnan(score[i, j]) and 0.08 + 0.77 * score[i, j] > 0.55
            # the question is which shared factor serves a task, so the references are not candidates
            column = np.where(views, score[:, j], np.nan)
            best = views[i] and np.sum(~np.isnan(column)) > 1 and score[i, j] == np.nanmax(column)
            axes.text(j, i, cell_text(table, setting, task), ha="center", va="center", fontsize=9,
                      color="white" if dark else "black", fontweight="bold" if best else "normal")
    axes.set_xticks(range(cols), [t.header for t in TASKS])
    axes.set_yticks(range(rows), table.settings)
    axes.xaxis.tick_top()
    axes.xaxis.set_label_position("top")
    axes.set_xlabel("task (error; lower is better)", labelpad=8)
    axes.set_ylabel("views share")
    axes.tick_params(length=0)
    for edge in axes.spines.values():
        edge.set_visible(False)
    axes.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    axes.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    axes.grid(which="minor", color="white", linewidth=2)
    axes.tick_params(which="minor", length=0)
    first = next((table.settings.index(s) for s in REFERENCES if s in table.settings), 0)
    if first > 0:  # the references are not view settings
        axes.axhline(first - 0.5, color="black", linewidth=1.2)
    where = LAYERS.get(table.layer, f"probes read layer {table.layer}")
    named = f" ({table.dataset})" if table.dataset != table.views else ""
    axes.set_title(f"Colorful Moving MNIST{named}: what the views share vs. what the probes recover\n"
                   f"{where}; {table.seeds_note()}", fontsize=10, pad=12)
    figure.text(0.01, 0.005, "colour: each column on its own scale, darker = lower error in that column; "
                "bold: the best view setting per column", fontsize=7, color="0.4", ha="left", va="bottom")
    figure.tight_layout()
    return figure
