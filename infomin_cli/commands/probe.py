"""`infomin probe`: probe a trained (or randomly initialised) run with one task of the probe registry.

The task is `--task` (see `infomin probes`), else the run's default by its dataset's capabilities;
its options are the flags it declares, and a dataset it cannot read is refused before anything is
loaded. Rows are appended to the results CSV as they are made."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from infomin_cli.commands._options import added_options, task_options, threads_option
from infomin_cli.evaluate.probes import PROBES
from infomin_cli.runtime.precision import PRECISION


def register(app: typer.Typer) -> None:
    @app.command()
    @threads_option()
    @added_options("given", task_options())
    def probe(
        run: Path = typer.Argument(..., help="Run folder written by `infomin pretrain --out`."),
        label: list[str] = typer.Option(None, help="Label(s) to probe, e.g. class, background, position, font; Moving MNIST: digit, position (px), background (default: the task's: the dataset's main label; every factor)."),
        layer: str = typer.Option(None, help="Encoder layer to read (default: the paper protocol's, e.g. conv5)."),
        random_init: bool = typer.Option(False, help="Probe the same architecture untrained (the baseline)."),
        results: Path = typer.Option(Path("results.csv"), help="Results CSV to append to."),
        device: str = typer.Option("auto"),
        precision: str = typer.Option(None, help=PRECISION.help + " Default: the run's own (auto unless trained with another)."),
        dataset: str = typer.Option(None, help="Probe on another dataset than the run's (transfer), e.g. stl10."),
        data_root: Path = typer.Option(None, help="Folder of --dataset's files."),
        task: str = typer.Option(None, help=f"The probe task: {', '.join(PROBES.names())} (see `infomin probes`; default: the one the run's dataset asks for, by what it holds and where its training split is read from)."),
        stream: bool = typer.Option(None, "--stream/--no-stream", help="Image folders: read from disk (default: as the run did, or when the folder would not fit in memory). Streamed data gets the paper's C.2 linear protocol."),
        json_out: bool = typer.Option(False, "--json", help="Print the rows as one JSON list instead of a line each."),
        given: dict[str, Any] = None,
    ) -> None:
        """Probe the frozen encoder: one CSV row per label (per layer, per metric) of the task."""
        chosen, rows, made_now = run_probe(run, label=label, layer=layer, random_init=random_init, results=results,
                                         device=device, precision=precision, dataset=dataset, data_root=data_root,
                                         task=task, stream=stream, given=given)
        if json_out:
            from infomin_cli.results.rows import clean

            typer.echo(json.dumps([clean(row) for row in rows], default=str))
            return
        for line in chosen.lines(rows, results):
            typer.echo(line + ("" if made_now else "   (already in the CSV: not redone)"))


def run_probe(run: Path, *, label: list[str] | None = None, layer: str | None = None, random_init: bool = False,
              results: Path = Path("results.csv"), device: str = "auto", precision: str | None = None,
              dataset: str | None = None, data_root: Path | None = None, task: str | None = None,
              stream: bool | None = None, given: dict[str, Any] | None = None) -> tuple[Any, list[dict[str, Any]], bool]:
    """What `infomin probe` does, for the command and for the Python API (`infomin_cli.api.probe`):
    (the task that ran, its rows, whether they were made now rather than found in
    `results`). `given`: the task options (e.g. epochs), None where not given."""
    from infomin_cli.commands import _catalog
    from infomin_cli.errors import InfominError
    from infomin_cli.results.table import append_row, check_appendable
    from infomin_cli.run_files import run_config
    from infomin_cli.runtime.precision import check_precision

    if precision is not None:
        precision = check_precision(precision)
    check_appendable(results, "--results")
    given = {name: value for name, value in (given or {}).items() if value is not None}
    if task is not None and task not in PROBES:
        raise InfominError(f"--task {task!r} is not valid; choose one of: {', '.join(PROBES.names())}")
    chosen = PROBES.get(task) if task is not None else None
    options = chosen.check(given) if chosen is not None else {}
    name = dataset or run_config(run).dataset
    _catalog.check("datasets", name)
    held = _catalog.labels(name)  # what the dataset declares it holds: a mistyped --label is refused here
    for wanted in label or ():
        if held and wanted not in held:
            raise InfominError(f"dataset {name!r} has no label {wanted!r}; its labels: {', '.join(sorted(held))}")
    # torch loads here, after the checks above: a typo is answered at once
    from infomin_cli.data import DATASETS
    from infomin_cli.data.source import storage_of
    from infomin_cli.evaluate.probes import ProbeAsk, default_task

    data = DATASETS.get(name)
    if chosen is not None:
        chosen.check_serves(data, name)
        if dataset and not chosen.transfer:
            raise InfominError(f"--task {chosen.name} probes the run's own dataset; leave out --dataset")

    def progress(done: int, total: int, loss: float | None = None, what: str = "") -> None:
        """About ten lines per fit on stderr (every epoch for short ones), not one per epoch of 100."""
        if done == 1 or done == total or done % max(1, total // 10) == 0:
            typer.echo(f"{chosen.name}{' ' + what if what else ''} epoch {done}/{total}"
                       + (f"  loss {loss:.3f}" if loss is not None else ""), err=True)

    ask = ProbeAsk(options, tuple(label or ()), layer, dataset, None if data_root is None else str(data_root),
                   stream, device, precision, results=results, emit=lambda row: append_row(results, row),
                   progress=progress)
    first = chosen or default_task(data)
    from rich.console import Console

    with Console(stderr=True).status(f"loading {run} and its data..."):  # erased when done: errors stay one line
        loaded = first.load(run, random_init, ask)
    if chosen is None:  # the run's default: where its training split really lives decides it
        chosen = default_task(data, streamed=storage_of(loaded.dataset.train) == "stream")
        ask = replace(ask, options=chosen.check(given))
    if loaded.unfinished:
        typer.echo(f"warning: {run} has trained {loaded.epochs_trained} of its {loaded.config.epochs} epochs; "
                   f"its rows say epochs={loaded.epochs_trained} (resume it: infomin pretrain --resume {run})",
                   err=True)
    made = rows_already_made(results, chosen, ask, loaded, name)
    return chosen, made or chosen.run(loaded, ask), not made


def rows_already_made(results: Path, task: Any, ask: Any, run: Any, dataset: str) -> list[dict[str, Any]]:
    """The rows this very probe (same run and weights, task, options, dataset, label and layer) already
    appended to `results`, if it holds all of them; [] otherwise, and the probe runs."""
    from infomin_cli.results.rows import run_columns
    from infomin_cli.results.table import read_results, rows_where

    if not results.is_file() or results.stat().st_size == 0:
        return []
    frame = read_results(results)
    mine = run_columns(run, dataset=ask.dataset)
    exact = {"run_id": mine["run_id"], "config_hash": mine["config_hash"], "dataset": mine["dataset"],
             "epochs": mine["epochs"]}
    trusted = {"probe_task": task.name, "probe_epochs": ask.options.get("epochs")}
    found = []
    for key in task.wanted(ask, dataset):
        rows = rows_where(frame, {**exact, "metric_name": key.metric, "probe_label": key.label,
                                  "probe_layer": key.layer or ask.layer}, trusted)
        if rows.empty:
            return []
        found.append(rows.iloc[-1].to_dict())
    return found
