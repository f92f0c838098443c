"""`infomin objectives`: every objective, its own options (flag, default, range, the paper's value), its paper."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def objectives() -> None:
        """List the training objectives, their options (flags), defaults and papers."""
        from rich.console import Console
        from rich.table import Table

        from infomin_cli.objectives import OBJECTIVES

        table = Table("objective", "option", "default", "accepts", "what it does", "paper", show_lines=True)
        for name, cls in OBJECTIVES.items():
            options = cls.options or ()
            trained_by = f" (`infomin {cls.command}`)" if cls.command else ""
            table.add_row(name + trained_by, "\n".join(o.cli_flag for o in options),
                          "\n".join(str(o.default) + (f" (paper {o.paper})" if o.paper is not None else "") for o in options),
                          "\n".join(o.describe() for o in options),
                          cls.summary + "".join(f"\n{o.cli_flag}: {o.help}" for o in options), cls.paper)
        Console(width=160).print(table)
