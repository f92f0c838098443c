"""Accuracy vs held-out I_NCE: learned views (B.5) among the hand-crafted colour-space splits (B.2).

    python docs/figures/learned_views_figure.py   # reads the CSVs below, writes learned-views.png/.pdf
                                                  # and prints the issue's science-bar comparisons

Every point is a contrastive run (the `colour-spaces` / `learned-views` presets: same encoder,
epochs, data and K) probed on `class`; mean ± s.e. over seeds where there are several. A learned
run's generator is `views/<from>-<flow>-<mode>-s<seed>[@epoch]`: runs of the same kind and epoch
with different seeds (different learners *and* contrastive seeds) are one point.

Epoch 0 of a trajectory is g = identity (the flow's output layers start at zero), so its views are
the raw split of the starting space bit for bit (tests/test_learned_views.py); the trajectory line
starts at that space's seed-0 run in the hand-crafted CSV instead of training it again.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
HAND = [HERE / "colour-spaces.csv", HERE / "learned-views-rgb-seed2.csv", HERE / "learned-views-rgb-seeds3-4.csv"]
LEARNED = HERE / "learned-views.csv"
KIND = re.compile(r"(?:.*/)?(?P<kind>[a-z]+-[a-z]+-[a-z-]+?)-s(?P<seed>\d+)@(?P<epoch>\d+)$")


def _rows(paths: list[Path]) -> pd.DataFrame:
    frames = [pd.read_csv(p) for p in paths if p.is_file()]
    rows = pd.concat(frames, ignore_index=True)
    return rows[(rows.metric_name == "top1") & (rows.probe_label == "class")]


def _summary(group: pd.DataFrame) -> pd.Series:
    n = len(group)

    def se(column: str) -> float:
        return group[column].std(ddof=1) / n**0.5 if n > 1 else 0.0

    return pd.Series({"x": group.i_nce.mean(), "y": group.metric_value.mean(), "x_se": se("i_nce"),
                      "y_se": se("metric_value"), "n": n})


def main() -> None:
    hand_rows = _rows(HAND)
    hand = hand_rows.groupby("knob_value").apply(_summary, include_groups=False)
    learned = _rows([LEARNED])
    parts = learned.knob_value.str.extract(KIND)
    learned = learned.assign(kind=parts.kind, epoch=parts.epoch.astype(int))
    final = learned.groupby("kind").epoch.transform("max")
    last = learned[learned.epoch == final].groupby("kind").apply(_summary, include_groups=False)

    fig, ax = plt.subplots(figsize=(7.5, 5))
    ax.errorbar(hand.x, hand.y, xerr=hand.x_se, yerr=hand.y_se, fmt="s", color="0.45", label="hand-crafted split (B.2)")
    for space, p in hand.iterrows():
        ax.annotate(space, (p.x, p.y), textcoords="offset points", xytext=(5, -10), color="0.35", fontsize=8)
    colours = {"semi": "tab:green", "unsup": "tab:red", "sup": "tab:blue"}  # the folder names' mode part
    names = {"semi": "semi-supervised", "unsup": "unsupervised", "sup": "supervised (labels only)"}
    for kind, p in last.iterrows():
        mode = kind.split("-", 2)[2]
        ax.errorbar(p.x, p.y, xerr=p.x_se, yerr=p.y_se, fmt="o", color=colours.get(mode, "k"), ms=7)
        ax.annotate(f"{kind} (n={int(p.n)})", (p.x, p.y), textcoords="offset points", xytext=(6, -12), fontsize=8)
    for kind, group in learned.groupby("kind"):  # the view-learning trajectory of one learner (seed 0)
        seed0 = group[group.knob_value.str.contains("-s0@")].groupby("epoch")[["i_nce", "metric_value"]].mean()
        if len(seed0) > 1:  # epoch 0 = the raw split of the starting space (g = identity), seed 0
            start = hand_rows[(hand_rows.knob_value == kind.split("-")[0]) & (hand_rows.seed == 0)]
            seed0.loc[0] = start[["i_nce", "metric_value"]].mean()
            seed0 = seed0.sort_index()
            mode = kind.split("-", 2)[2]
            ax.plot(seed0.i_nce, seed0.metric_value, "--", color=colours.get(mode, "k"), alpha=0.6)
            for epoch, p in seed0.iterrows():
                ax.annotate(f"@{epoch}", (p.i_nce, p.metric_value), textcoords="offset points", xytext=(-4, 6),
                            fontsize=7, color=colours.get(mode, "k"))
    for mode, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=f"learned, {names[mode]} (B.5)")
    ax.plot([], [], "--", color="0.4", label="the seed-0 learner's trajectory (@epoch; @0 = raw split)")
    ax.set_xlabel("held-out I_NCE of the contrastive run (nats, K = 128)")
    ax.set_ylabel("linear probe top-1 on class (%)")
    ax.set_title("Learned views among the colour-space splits (embedded data, ConvNet)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    for suffix in (".png", ".pdf"):
        fig.savefig(HERE / f"learned-views{suffix}", dpi=150)
    print(pd.concat({"hand-crafted": hand, "learned (last epoch)": last}).round(3).to_string())
    print()
    for kind in sorted(k for k in last.index if k.startswith("rgb-")):
        for column, name in (("y", "top-1"), ("x", "held-out I_NCE")):
            _compare(f"{kind} vs raw rgb, {name}", last.loc[kind], hand.loc["rgb"], column)
    if {"rgb-vp-semi", "rgb-vp-sup"} <= set(last.index):
        _compare("rgb-vp-semi vs rgb-vp-sup (labels only), top-1", last.loc["rgb-vp-semi"], last.loc["rgb-vp-sup"], "y")
    first3 = learned[(learned.kind == "rgb-vp-semi") & (learned.epoch == final) & (learned.seed < 3)]
    raw3 = hand_rows[(hand_rows.knob_value == "rgb") & (hand_rows.seed < 3)]
    if len(first3) == 3 and len(raw3) == 3:  # the bar asks for at least 3 seeds: seeds 0-2 alone
        _compare("seeds 0-2 only: rgb-vp-semi vs raw rgb, top-1", _summary(first3), _summary(raw3), "y")


def _compare(what: str, a: pd.Series, b: pd.Series, column: str) -> None:
    """The difference of two means in standard errors of the difference (unpaired: each learned
    point has its own learner as well as its own contrastive seed)."""
    diff = a[column] - b[column]
    se = (a[f"{column}_se"] ** 2 + b[f"{column}_se"] ** 2) ** 0.5
    ratio = f"{diff / se:+.1f} s.e." if se > 0 else "n/a (one seed)"
    print(f"{what}: {a[column]:.3f} - {b[column]:.3f} = {diff:+.3f} ({ratio}; n = {int(a.n)} vs {int(b.n)})")


if __name__ == "__main__":
    main()
