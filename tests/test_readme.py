"""The README's examples are commands that exist, and can be pasted one after another.

Each `infomin ...` line of the README's shell blocks (and the command after `torchrun ... -m
infomin_cli`) is parsed by the real command line, not run: its subcommand and every flag must
exist and every value must convert and sit in its range. A command that trains or sweeps names its
own output, so no two examples write the same folder or CSV (without one, the second pasted
command would refuse `runs/latest`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer._click import Context
from typer.core import TyperGroup
from typer.main import get_command

from infomin_cli.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
WRITERS = ("pretrain", "learn-views", "sweep")  # what trains or appends a curve: each its own --out


def examples(text: str) -> list[list[str]]:
    """The argument lists (after `infomin`) of every example in the README's bash blocks."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line.replace("$s", "0"), comments=True)  # the shell loop's seed
            if words[:1] == ["infomin"]:
                found.append(words[1:])
            elif words[:1] == ["torchrun"]:
                at = words.index("-m")
                assert words[at + 1] == "infomin_cli", line
                found.append(words[at + 2:])
    return found


def parse(args: list[str]) -> tuple[str, dict]:
    """The subcommand path and its parsed parameters, as the CLI would parse `args` (nothing runs)."""
    command = get_command(app)
    context = command.make_context("infomin", list(args))
    path = []
    while isinstance(command, TyperGroup):
        rest = [*context._protected_args, *context.args]
        if not rest:
            break
        name, command, rest = command.resolve_command(context, rest)
        path.append(name)
        context = command.make_context(name, rest, parent=context)
    return " ".join(path), context.params


EXAMPLES = examples(README.read_text())


def test_the_readme_has_examples_of_every_command():
    used = {parse(args)[0].split()[0] for args in EXAMPLES if args}
    group = get_command(app)
    assert set(group.list_commands(Context(group))) - used == set()


@pytest.mark.parametrize("args", EXAMPLES, ids=[" ".join(a)[:80] for a in EXAMPLES])
def test_each_example_parses(args):
    parse(args)


def test_no_two_examples_write_the_same_run_folder_or_curve():
    outputs: dict[str, list[str]] = {}
    for args in EXAMPLES:
        name, params = parse(args)
        if name not in WRITERS or params.get("resume") or params.get("resume_from") or params.get("print_config"):
            continue
        assert params.get("out") is not None, f"`infomin {' '.join(args)}` writes the default output; give --out"
        outputs.setdefault(str(params["out"]), []).append(" ".join(args))
    assert {out: cmds for out, cmds in outputs.items() if len(cmds) > 1} == {}
