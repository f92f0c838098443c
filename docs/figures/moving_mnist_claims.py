"""The issue's three readings of Table 1, checked on a factors-sweep CSV, each as a difference in
standard errors of the difference (sqrt(se_a^2 + se_b^2)), for both probe layers; then, against
the untrained reference row, which cells were learned (or lost) in training rather than present at
initialisation.

    python docs/figures/moving_mnist_claims.py docs/figures/moving-mnist.csv
"""

from __future__ import annotations

import math
import sys

from infomin_cli.evaluate.probes.factors import UNTRAINED
from infomin_cli.plots.factors import TASKS, load_factor_table

SINGLE = ("digit", "position", "background")


def gap(table, better: str, worse: str, task) -> tuple[float, float]:
    """(worse - better) error and that difference in standard errors (positive: `better` is better)."""
    a, b = table.cell(better, task), table.cell(worse, task)
    if a is None or b is None:
        return math.nan, math.nan
    diff = float(b["mean"]) - float(a["mean"])
    se = math.sqrt(float(a["se"]) ** 2 + float(b["se"]) ** 2)
    return diff, diff / se if se > 0 else math.nan


def report(path: str, layer: str) -> list[str]:
    table = load_factor_table(path, layer)
    by_label = {t.label: t for t in TASKS}
    lines = [f"## layer {layer}"]
    lines.append("1. a factor shared alone has the lowest error of its column among the single-factor rows:")
    for factor in SINGLE:
        task = by_label[factor]
        for other in SINGLE:
            if other != factor:
                diff, z = gap(table, factor, other, task)
                lines.append(f"   {factor:<10} column: shared={factor} vs shared={other}: {diff:+.2f} ({z:+.1f} s.e.)")
    lines.append("2. background shared with others dominates: digit and position errors stay near their unshared levels")
    for setting in ("background+digit", "background+position", "all"):
        for factor in ("digit", "position"):
            if factor in setting or setting == "all":
                diff, z = gap(table, setting, factor, by_label[factor])  # vs shared alone (what it would reach)
                near, zn = gap(table, setting, "background", by_label[factor])  # vs not shared at all
                lines.append(f"   {setting:<20} {factor} error: {-diff:+.2f} above shared={factor} ({-z:+.1f} s.e.), "
                             f"{-near:+.2f} vs shared=background ({-zn:+.1f} s.e.)")
    lines.append("3. when digit and position are shared, the digit is learned:")
    for other in ("position", "background"):
        diff, z = gap(table, "digit+position", other, by_label["digit"])
        lines.append(f"   digit error, digit+position vs {other}: {diff:+.2f} lower ({z:+.1f} s.e.)")
    if UNTRAINED in table.settings:
        lines.append("against the untrained architecture (positive: lower error after training):")
        for setting in [s for s in table.settings if s != UNTRAINED]:
            cells = []
            for task in TASKS:
                diff, z = gap(table, setting, UNTRAINED, task)
                cells.append(f"{task.label} {diff:+.2f} ({z:+.1f} s.e.)")
            lines.append(f"   {setting:<20} " + ", ".join(cells))
    return lines


if __name__ == "__main__":
    for layer in ("sequence", "image"):
        print("\n".join(report(sys.argv[1], layer)))
