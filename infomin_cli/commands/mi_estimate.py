"""`infomin mi-estimate`: MI with its ceiling, interval and saturation flag.

Three inputs, one output shape (`infomin_cli.mi.report.Estimate`):
  RUN_DIR            held-out I_NCE of a trained run's own encoders+heads (K = batch or --negatives)
  --views FAMILY     train a fresh small critic on the views themselves, report held-out I_NCE
  --source NAME      a known-MI source, for checking estimators against the truth

`--source` computes on one thread unless `--threads` (or OMP_NUM_THREADS) says otherwise: its
critics are small MLPs (256 wide, batches of 128), which more threads do not speed up.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from infomin_cli.commands._options import threads_option
from infomin_cli.errors import InfominError
from infomin_cli.runtime.precision import PRECISION

if TYPE_CHECKING:
    from infomin_cli.estimation import EstimateRow


def register(app: typer.Typer) -> None:
    @app.command("mi-estimate")
    @threads_option(default=lambda arguments: 1 if arguments["source"] is not None else None)
    def mi_estimate(
        run: Path = typer.Argument(None, help="Run folder of `infomin pretrain` (held-out I_NCE of its encoders)."),
        negatives: int = typer.Option(None, help="Score each query against N held-out keys (K = N) instead of the batch."),
        views: str = typer.Option(None, help="View family: train a fresh critic on these views (see `infomin views`)."),
        knob: list[str] = typer.Option(None, help="Knob of --views as name=value (repeatable)."),
        dataset: str = typer.Option("embedded", help="Dataset for --views."),
        data_root: Path = typer.Option(None, help="Dataset folder for --views (datasets that need files)."),
        source: str = typer.Option(None, help="Known-MI source: gaussian, cubic or shuffled."),
        dim: int = typer.Option(20, help="Dimension of x and y for --source."),
        mi: str = typer.Option("0,2,4,6,8,10", help="True MI values in nats for --source, comma-separated."),
        estimators: str = typer.Option("infonce", help="Comma-separated: infonce, nwj, smile, dv, ksg (ksg: --source only)."),
        critic: str = typer.Option("separable", help="Critic for --source: separable or concat."),
        steps: int = typer.Option(None, help="Critic training steps (default 1500 for --source, 600 for --views)."),
        batch_size: int = typer.Option(None, help="K for trained critics (default 128; --views default 64)."),
        eval_batches: int = typer.Option(50, help="Held-out batches the interval is formed over."),
        clip: float = typer.Option(5.0, help="SMILE clip tau (SMILE is not a lower bound for finite tau)."),
        ksg_samples: int = typer.Option(2000, help="Samples for KSG."),
        seed: int = typer.Option(0),
        units: str = typer.Option("nats", help="nats or bits."),
        as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table."),
        results: Path = typer.Option(None, help="Append one row per estimate to this results CSV."),
        device: str = typer.Option("auto"),
        precision: str = typer.Option(None, help=PRECISION.help + " RUN_DIR default: the run's own; --views: auto."),
        quiet: bool = typer.Option(False, help="No progress bars (on stderr: each estimate, its critic's steps)."),
    ) -> None:
        """Estimate mutual information with value, unit, K, log K, 95 % CI and a saturation flag."""
        start = time.perf_counter()
        rows = estimate_rows(run, negatives=negatives, views=views, knob=knob, dataset=dataset, data_root=data_root,
                             source=source, dim=dim, mi=mi, estimators=estimators, critic=critic, steps=steps,
                             batch_size=batch_size, eval_batches=eval_batches, clip=clip, ksg_samples=ksg_samples,
                             seed=seed, units=units, results=results, device=device, precision=precision,
                             quiet=quiet)
        if as_json:
            typer.echo(json.dumps([row.to_json() for row in rows], indent=2))
        else:
            _print_table(rows, time.perf_counter() - start, results)


def estimate_rows(run: Path | None = None, *, negatives: int | None = None, views: str | None = None,
                  knob: list[str] | None = None, dataset: str = "embedded", data_root: Path | None = None,
                  source: str | None = None, dim: int = 20, mi: str = "0,2,4,6,8,10", estimators: str = "infonce",
                  critic: str = "separable", steps: int | None = None, batch_size: int | None = None,
                  eval_batches: int = 50, clip: float = 5.0, ksg_samples: int = 2000, seed: int = 0,
                  units: str = "nats", results: Path | None = None, device: str = "auto",
                  precision: str | None = None, quiet: bool = False) -> list[EstimateRow]:
    """What `infomin mi-estimate` computes, for the command and for the Python API
    (`infomin_cli.api.estimate`): the estimates in `units`, each appended to `results` when given."""
    from rich.console import Console

    from infomin_cli.commands import _catalog
    from infomin_cli.progress import make_progress
    from infomin_cli.runtime.precision import check_precision

    if precision is not None:
        precision = check_precision(precision)
    if results is not None:
        from infomin_cli.results.table import check_appendable

        check_appendable(results, "--results")
    if units not in ("nats", "bits"):
        raise InfominError(f"--units {units!r} is not valid; choose nats or bits")
    chosen = [x for x in (run is not None, views is not None, source is not None) if x]
    if len(chosen) != 1:
        raise InfominError("give exactly one of: RUN_DIR, --views FAMILY, or --source gaussian|cubic|shuffled")
    if views is not None:
        _catalog.check("views", views)  # a typo is one line before torch loads
    from infomin_cli import estimation as support
    bars = Console(stderr=True)
    with make_progress(bars, disable=quiet or not bars.is_terminal) as progress:  # logs get the table alone
        if source is not None:
            rows = support.synthetic_rows(source, dim, mi, estimators, critic, steps, batch_size, eval_batches,
                                          clip, ksg_samples, seed, progress=progress)
        elif run is not None:
            rows = support.run_rows(run, negatives, eval_batches, seed, device, precision=precision,
                                    progress=progress)
        else:
            rows = support.views_rows(views, knob, dataset, data_root, steps, batch_size, eval_batches, seed,
                                      device, precision or "auto", progress=progress)
    for row in rows:
        row.estimate = row.estimate.to(units)
    if results is not None:
        for row in rows:
            support.append_result(results, row)
    return rows


def _print_table(rows: list[EstimateRow], seconds: float, results: Path | None) -> None:
    from rich.console import Console

    from infomin_cli.commands._listing import print_listing
    from infomin_cli.estimation import TABLE_HEADERS, table_rows

    console = Console()
    unit = rows[0].estimate.unit if rows else "nats"
    cells, notes = table_rows(rows)
    print_listing(f"mutual information ({unit}); 95% CI over held-out batches; sat = value > 0.9 log K, for the "
                  "estimators log K bounds (–: no ceiling)", TABLE_HEADERS, cells, console,
                  right=TABLE_HEADERS[1:2] + TABLE_HEADERS[3:])
    for text in notes:
        console.print(text, markup=False, highlight=False)
    console.print(f"{len(rows)} estimate(s) in {seconds:.1f}s" + (f"; rows appended to {results}" if results else ""))
