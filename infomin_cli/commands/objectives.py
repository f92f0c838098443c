"""`infomin objectives`: every objective, its options with defaults, and where it comes from."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def objectives() -> None:
        """List the training objectives, their options (flags), defaults and papers."""
        from rich.console import Console
        from rich.table import Table

        from infomin_cli.objectives import OBJECTIVES

        table = Table("objective", "option", "default", "what it does", "paper", show_lines=True)
        for name, cls in OBJECTIVES.items():
            options = cls.options or ()
            table.add_row(name, "\n".join(f"--{o.name}" for o in options), "\n".join(str(o.default) for o in options),
                          cls.summary + "".join(f"\n--{o.name}: {o.help}" for o in options), cls.paper)
        Console(width=160).print(table)
