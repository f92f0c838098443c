"""`infomin probes`: every probe task, its options (flag, default, range, the paper's value), the datasets it reads, its paper section."""

from __future__ import annotations

import typer

TITLE = "Probe tasks (probe --task NAME, sweep --probe-task NAME) and their own options"
HEADERS = ("task", "option", "default", "accepts", "what it does", "reads", "paper")


def probe_rows() -> list[tuple[str, ...]]:
    """One row per task (its summary, the datasets it reads, its paper section), then one per option it declares."""
    from infomin_cli.data import DATASETS
    from infomin_cli.evaluate.probes import PROBES

    rows = []
    for name, task in PROBES.items():
        able = [data for data, entry in DATASETS.items() if task.refusal(entry) is None]
        rows.append((name, "-", "-", "-", task.summary, f"{task.serves}: {', '.join(able) or 'none registered'}",
                     task.paper))
        for option in task.options:
            paper = f" (paper {option.paper})" if option.paper is not None else ""
            default = "-" if option.default is None else f"{option.default}{paper}"
            rows.append(("", option.cli_flag, default, option.describe(), option.help, "", ""))
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def probes() -> None:
        """List the probe tasks: their options, defaults, the datasets they read, and their papers."""
        from infomin_cli.commands._listing import print_listing

        print_listing(TITLE, HEADERS, probe_rows())
