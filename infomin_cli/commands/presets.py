"""`infomin presets`: every preset of experiments.yaml (and of a --config preset file), with its
paper section and both scales: what runs here (`embedded`) and the paper's own settings (`--scale paper`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

SETTINGS = ("dataset", "views", "knobs", "encoder", "objective", "epochs", "batch_size", "lr", "temperature")


def _brief(block: dict[str, Any]) -> str:
    """The settings a reader compares first, in one line each."""
    shown = [f"{key}: {block[key]}" for key in SETTINGS if key in block]
    others = sorted(set(block) - set(SETTINGS))
    return "\n".join(shown + ([f"(+ {', '.join(others)})"] if others else []))


def register(app: typer.Typer) -> None:
    @app.command()
    def presets(
        config: Path = typer.Option(None, help="Also list the presets of this preset file (a `presets:` mapping)."),
    ) -> None:
        """List the presets: paper section, what each runs at embedded scale and at --scale paper, and its sweep."""
        from rich.console import Console
        from rich.table import Table

        from infomin_cli.config import PRESETS_FILE, get_preset, load_presets, read_config_file

        extra = read_config_file(config).presets if config is not None else {}
        if config is not None and not extra:
            from infomin_cli.errors import InfominError

            raise InfominError(f"--config {config} holds config fields, not presets; a preset file has a `presets:` "
                               "mapping (as experiments.yaml)")
        names = sorted({*load_presets(), *extra})
        table = Table(show_lines=True, title=f"presets of {PRESETS_FILE.name}" + (f" and {config}" if extra else ""))
        table.add_column("preset", no_wrap=True)
        table.add_column("section", max_width=12)
        table.add_column("embedded (default)", ratio=3)
        table.add_column("--scale paper", ratio=2)
        table.add_column("sweep", ratio=2, overflow="fold")
        for name in names:
            entry = get_preset(name, extra=extra)
            sweep = entry.get("sweep") or {}
            values = str(sweep.get("spec", "(your values)")).replace(",", ", ")
            planned = f"{sweep['knob']} = {values}; {sweep.get('seeds', 1)} seed(s)" \
                if "knob" in sweep else ""
            table.add_row(name, str(entry.get("section", "")),
                          (entry.get("description", "") + "\n\n" if entry.get("description") else "")
                          + _brief(entry.get("config") or {}),
                          _brief(entry.get("paper") or {}) or "(none)", planned)
        Console().print(table)
        typer.echo("use one: infomin pretrain --preset NAME [--scale paper] --out runs/NAME; "
                   "its sweep: infomin sweep --preset NAME")
