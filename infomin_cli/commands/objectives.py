"""`infomin objectives`: every objective, its own options (flag, default, range, the paper's value), its paper."""

from __future__ import annotations

import typer

TITLE = "Training objectives (pretrain --objective NAME) and their own options"
HEADERS = ("objective", "option", "default", "accepts", "what it does", "paper")


def objective_rows() -> list[tuple[str, ...]]:
    """One row per objective (its summary and paper), then one per option it declares."""
    from infomin_cli.objectives import OBJECTIVES

    rows = []
    for name, cls in OBJECTIVES.items():
        trained_by = f" (`infomin {cls.command}`)" if cls.command else ""
        rows.append((name + trained_by, "-", "-", "-", cls.summary, cls.paper))
        for option in cls.options or ():
            paper = f" (paper {option.paper})" if option.paper is not None else ""
            rows.append(("", option.cli_flag, f"{option.default}{paper}", option.describe(), option.help, ""))
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def objectives() -> None:
        """List the training objectives, their options (flags), defaults and papers."""
        from infomin_cli.commands._listing import print_listing

        print_listing(TITLE, HEADERS, objective_rows())
