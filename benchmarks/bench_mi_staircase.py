"""The MI staircase of Poole et al. 2019 (Fig. 2) for every estimator, on CPU.

d = 20 correlated Gaussians, separable critic (2 x 256 hidden, 32-d embedding), batch K = 64,
Adam lr 5e-4; the true MI steps through 2, 4, 6, 8, 10 nats while one critic keeps training (as in
the paper). At the end of each level the critic is scored on held-out batches. Poole et al. use
4,000 steps per level; the default here is 800 to fit ~5 minutes on 2 shared cores.

    python -m benchmarks.bench_mi_staircase [--steps-per-level 800] [--seeds 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import torch

from infomin_cli.mi.knn import ksg
from infomin_cli.mi.sources import STAIRCASE, get_source
from infomin_cli.mi.train import CriticSpec, evaluate, fit_critic

PUBLISHED = {
    "infonce": "saturates at log K = 4.16 (Poole et al. 2019, Fig. 2)",
    "nwj": "unbiased-ish but variance grows ~exp(I) (Poole; Song & Ermon 2020)",
    "smile": "tracks the truth; positive bias at high MI for tau=5 (Song & Ermon 2020, Fig. 1)",
    "dv": "MINE: high variance, unstable at high MI (Song & Ermon 2020)",
    "ksg": "not in the papers; k-NN, biased low in 40 dims",
}


def staircase(estimator: str, seed: int, steps: int, eval_batches: int) -> list[float]:
    """Held-out estimate at the end of each level, one critic trained through all levels."""
    spec = CriticSpec(batch_size=STAIRCASE.batch_size, lr=STAIRCASE.lr)
    torch.manual_seed(seed)
    critic = spec.build(STAIRCASE.dim, STAIRCASE.dim)
    train_gen = torch.Generator().manual_seed(1000 + seed)
    eval_gen = torch.Generator().manual_seed(2000 + seed)
    out = []
    for level in STAIRCASE.levels:
        sampler = get_source("gaussian").make(level, STAIRCASE.dim)
        fit_critic(critic, sampler, estimator, steps, spec.batch_size, spec.lr, train_gen)
        values = evaluate(critic, sampler, [estimator], eval_batches, spec.batch_size, eval_gen)[estimator]
        out.append(statistics.fmean(values))
    return out


def ksg_staircase(seed: int, n: int = 2000) -> list[float]:
    out = []
    for level in STAIRCASE.levels:
        x, y = get_source("gaussian").make(level, STAIRCASE.dim)(n, torch.Generator().manual_seed(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(ksg(x.numpy(), y.numpy()).value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps-per-level", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-batches", type=int, default=20)
    parser.add_argument("--estimators", default="infonce,nwj,smile,dv,ksg")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.estimators.split(",")
    levels = STAIRCASE.levels
    lines = [
        f"d = {STAIRCASE.dim}, K = {STAIRCASE.batch_size} (log K = {math.log(STAIRCASE.batch_size):.2f}), "
        f"separable critic 2x256 -> 32, Adam {STAIRCASE.lr:g}, {args.steps_per_level} steps per level "
        f"(Poole et al.: 4000), {args.seeds} seeds, {args.eval_batches} held-out batches per level. "
        "Cells: mean over seeds ± seed sd (nats). KSG: N = 2000, k = 3.",
        "",
        "| estimator | " + " | ".join(f"I = {lv:g}" for lv in levels) + " | wall s | published behaviour |",
        "|---|" + "---|" * len(levels) + "---|---|",
    ]
    for name in names:
        start = time.perf_counter()
        runs = [ksg_staircase(s) if name == "ksg" else staircase(name, s, args.steps_per_level, args.eval_batches)
                for s in range(args.seeds)]
        wall = time.perf_counter() - start
        cells = []
        for i in range(len(levels)):
            vals = [r[i] for r in runs]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.fmean(vals):.2f} ± {sd:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {wall:.0f} | {PUBLISHED.get(name, '')} |")
        print(lines[-1], flush=True)
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from benchmarks.report import write_section

        command = "python -m benchmarks.bench_mi_staircase " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("no_write",))
        write_section("mi-staircase", body, command)


if __name__ == "__main__":
    main()
