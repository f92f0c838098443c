"""The `infomin` command: a thin Typer layer over the library.

Every command module in `infomin_cli.commands` registers itself. `InfominGroup` is the boundary
every invocation passes (the installed script, `python -m infomin_cli`, Typer's test runner):
it checks each numeric option against its declared range (`ranges.py`) as Click parses it, and
turns bad input of any kind (an `InfominError`, or a Click usage error: a bad type, an unknown
option or subcommand, a missing argument) into one line on stderr and exit code 2, so bad input
never shows a traceback or a boxed panel. `--help` stays rich.
"""

from __future__ import annotations

import errno
import importlib
import os
import pkgutil
import sys
import typing
from collections.abc import Iterator
from typing import Any

import typer
from typer import _click as click
from typer._click import exceptions as click_errors
from typer.core import TyperGroup

from infomin_cli import __version__, commands, ranges
from infomin_cli.errors import InfominError
from infomin_cli.progress import clear_announcement
from infomin_cli.runtime import threads

INTERRUPTED = 130
RESUME_ADVICE = "interrupted; the last finished epoch's checkpoint is kept: rerun with --resume to continue"


def interrupt_advice(command: click.Command | None) -> str:
    """What Ctrl-C leaves and how to continue, as the command declares it: its callback's
    `interrupt_advice`, else the checkpoint line for a command that takes --resume, else nothing
    beyond the fact."""
    if command is None:
        return "interrupted"
    declared = getattr(command.callback, "interrupt_advice", None)
    if declared:
        return declared
    return RESUME_ADVICE if any(param.name == "resume" for param in command.params) else "interrupted"


def _walk(command: click.Command) -> Iterator[click.Command]:
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _walk(sub)


def _range_checked(param: click.Parameter) -> None:
    """Wrap the option's callback so its value is checked against RANGES as soon as it is parsed."""
    inner = param.callback

    def callback(ctx: click.Context, this: click.Parameter, value: Any) -> Any:
        if not ctx.resilient_parsing:
            for item in value if isinstance(value, (list, tuple)) else (value,):
                ranges.check(this.name, item)
        return inner(ctx, this, value) if inner is not None else value

    param.callback = callback


def install_ranges(root: click.Command) -> None:
    """Every numeric option of every (sub)command that RANGES names gets its range check."""
    for command in _walk(root):
        for param in command.params:
            numeric = _is_number(getattr(param, "type_descriptor", None))
            if numeric and param.name in ranges.RANGES and not getattr(param, "_range_checked", False):
                _range_checked(param)
                param._range_checked = True  # type: ignore[attr-defined]


def _is_number(descriptor: Any) -> bool:
    """An int or float option (also `int | None`, and lists of them); never a bool or a name."""
    if descriptor is None:
        return False
    annotation = descriptor.annotation
    kinds = typing.get_args(annotation) or (annotation,)
    if typing.get_origin(annotation) in (list, tuple):
        kinds = typing.get_args(annotation)
    return any(kind in (int, float) for kind in kinds)


def _say(line: str) -> None:
    """One line on stderr; under torchrun the ranks other than 0 name themselves."""
    clear_announcement()
    rank = os.environ.get("RANK", "0")
    print(line if rank == "0" else line.replace("error:", f"error (rank {rank}):", 1), file=sys.stderr)


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


class InfominGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        install_ranges(self)
        self.interrupted: click.Command | None = None

    def invoke(self, ctx: click.Context) -> Any:
        """Remember which command a Ctrl-C stopped, so the advice printed is that command's."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            name = ctx.invoked_subcommand
            self.interrupted = self.get_command(ctx, name) if name else None
            raise

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Click's standalone mode, except that every error is one line and exit code 2."""
        try:
            code = super().main(args=args, prog_name=prog_name or "infomin", complete_var=complete_var,
                                standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError:  # the rich help is already printed
            sys.exit(2)
        except click_errors.UsageError as exc:
            where = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
            _say(f"error: {one_line(exc.format_message()).rstrip('.')}{where}")
            sys.exit(2)
        except click_errors.ClickException as exc:
            _say(f"error: {one_line(exc.format_message())}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("aborted", file=sys.stderr)
            sys.exit(1)
        except InfominError as exc:
            _say(f"error: {one_line(exc)}")
            sys.exit(2)
        except OSError as exc:  # a path given to read whose name no filesystem takes (outputs: paths.py)
            if exc.errno != errno.ENAMETOOLONG:
                raise
            name = str(exc.filename or "")
            shown = name if len(name) <= 80 else f"{name[:40]}...{name[-20:]}"
            _say(f"error: {shown}: a name longer than the filesystem allows; choose a shorter path")
            sys.exit(2)
        if code == INTERRUPTED and os.environ.get("RANK", "0") == "0":  # Click turned a KeyboardInterrupt into this
            clear_announcement()
            print(interrupt_advice(self.interrupted), file=sys.stderr)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="infomin",
    cls=InfominGroup,
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


threads.quiet_waiting()  # before any command module imports torch (and with it, OpenMP)
for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):  # helpers shared by commands, not commands
        continue
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


def main(argv: list[str] | None = None) -> None:
    app(args=argv)


if __name__ == "__main__":
    main()
