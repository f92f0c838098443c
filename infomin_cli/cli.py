"""The `infomin` command: a thin Typer layer over the library.

Every command module in `infomin_cli.commands` registers itself; `main` turns an `InfominError`
into one line on stderr and exit code 2, so bad input never shows a traceback.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from infomin_cli import __version__, commands
from infomin_cli.errors import InfominError

app = typer.Typer(
    name="infomin",
    help="Views, contrastive pretraining, I_NCE estimation, probes and reverse-U sweeps (InfoMin, Tian et al. 2020).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):  # helpers shared by commands, not commands
        continue
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except InfominError as exc:
        rank = os.environ.get("RANK", "0")  # under torchrun each rank says it; the others name themselves
        print(f"error: {exc}" if rank == "0" else f"error (rank {rank}): {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":
            print("interrupted; the last finished epoch's checkpoint is kept (resume with --resume)", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
