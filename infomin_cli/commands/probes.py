"""`infomin probes`: every probe task, its options with defaults, what it reads, and its paper section."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def probes() -> None:
        """List the probe tasks (`infomin probe --task`, `infomin sweep --probe-task`): options, defaults, datasets, paper."""
        from rich.console import Console
        from rich.table import Table

        from infomin_cli.data import DATASETS
        from infomin_cli.evaluate.probes import PROBES

        table = Table("task", "option", "default", "what it does", "reads", "paper", show_lines=True)
        for name, task in PROBES.items():
            able = [data for data, entry in DATASETS.items() if task.refusal(entry) is None]
            table.add_row(name, "\n".join(o.cli_flag for o in task.options),
                          "\n".join("-" if o.default is None else str(o.default) for o in task.options),
                          task.summary + "".join(f"\n{o.cli_flag}: {o.help}" for o in task.options),
                          f"{task.serves}: {', '.join(able) or 'none registered'}", task.paper)
        Console(width=180).print(table)
