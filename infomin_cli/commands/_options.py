"""The training options that `pretrain`, `sweep` and `learn-views` share, declared once so they cannot drift.

`@training_options()` appends these parameters to a command's signature (Typer reads the
signature) and hands their values to the command as one dict, `training`; `overrides(training)`
turns that dict into RunConfig overrides (None = not given, so presets and defaults apply).

`--threads` is declared once here too (`THREADS`), for every command that computes: those with the
training options get it with them, the others through `@threads_option()`; either way it is
applied (`runtime/threads.py`) before the command runs, and never reaches the command.

Two kinds of option: the general ones below, and each method's own, which are not written here but
generated from the methods' declarations (`Objective.options`): a flag per declared option, its
help naming the methods that take it, its default and the paper's value. A method flag given on the
command line lands in the namespace of the objective the run trains, and is checked there. The
declarations are read through `_catalog.py`, so `--help` does not import the methods (nor torch).

`--help` groups the options into panels (`PANELS`: data, model, objective, optimisation, run); a
generated flag's panel is its declarer's (a method's options: objective; a probe task's: probe).
A general option left unset takes RunConfig's default, which `--help` shows as its default.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from infomin_cli.commands import _catalog
from infomin_cli.config import RunConfig
from infomin_cli.options import Option
from infomin_cli.runtime import threads
from infomin_cli.runtime.precision import PRECISION

DATA, MODEL, OBJECTIVE, OPTIMISATION, RUN, PROBE = "Data", "Model", "Objective", "Optimisation", "Run", "Probe task"
THREADS_HELP = ("torch CPU threads of this process (default: the cores it may use, shared among the processes it "
                "starts; OMP_NUM_THREADS when set).")
THREADS = typer.Option(None, "--threads", help=THREADS_HELP)

# name -> (type, typer.Option). Help texts say what the paper uses where it says.
TRAINING_OPTIONS: dict[str, tuple[Any, Any]] = {
    "views": (str | None, typer.Option(None, help="View family (see `infomin views`), e.g. lab-split, infomin-aug.")),
    "dataset": (str | None, typer.Option(None, help="embedded, stl10, cifar10, ... (see `infomin datasets`; default: the "
                                                      "view family's, embedded for most).")),
    "data_root": (Path | None, typer.Option(None, help="Folder holding the dataset's files (never downloaded).")),
    "encoder": (str | None, typer.Option(None, help="convnet (fast CPU), alexnet-half (CMC), resnet18, resnet50.")),
    "head": (str | None, typer.Option(None, help="Projection head: linear or mlp.")),
    "objective": (str | None, typer.Option(None, help="infonce, moco, memory-bank, ... (see `infomin objectives`).")),
    "temperature": (float | None, typer.Option(None, help="Temperature tau of the contrastive loss.")),
    "batch_size": (int | None, typer.Option(None, help="Batch size; in-batch InfoNCE has K = batch size.")),
    "epochs": (int | None, typer.Option(None, help="Pretraining epochs.")),
    "lr": (float | None, typer.Option(None, help="Learning rate (cosine schedule).")),
    "optimizer": (str | None, typer.Option(None, help="sgd or adam (cosine schedule either way).")),
    "weight_decay": (float | None, typer.Option(None, help="Weight decay.")),
    "image_size": (int | None, typer.Option(None, help="Encoder input size (default: the dataset's).")),
    "limit": (int | None, typer.Option(None, help="Use only the first N pretraining images.")),
    "seed": (int | None, typer.Option(None, help="Random seed (a sweep's first: --seeds N uses seed..seed+N-1).")),
    "device": (str | None, typer.Option(None, help="auto (CUDA when present), cpu, cuda, cuda:N.")),
    "precision": (str | None, typer.Option(None, help=PRECISION.help)),
    "knn_monitor": (bool | None, typer.Option(None, "--knn-monitor/--no-knn-monitor",
                                                 help="k-NN accuracy on the held-out split every epoch.")),
    "sync_bn": (bool | None, typer.Option(None, "--sync-bn/--no-sync-bn",
                                           help="Under torchrun: BN statistics over the global batch (CUDA only); "
                                                "default: per-GPU BN, MoCo shuffles its keys across GPUs.")),
    "log": (str | None, typer.Option(None, help="tensorboard: also write TensorBoard event files into the run folder.")),
    "stream": (bool | None, typer.Option(None, "--stream/--no-stream",
                                         help="Image folders: read from disk in worker processes (default: when the folder would not fit in memory).")),
    "strict_data": (bool | None, typer.Option(None, "--strict-data", help="Stop on the first unreadable image file (default: skip and count it).")),
    "workers": (int | None, typer.Option(None, help="Processes decoding a streamed folder (default: the cores less one, at most 16).")),
    "preset": (str | None, typer.Option(None, help="A preset (see `infomin presets`); --config and flags override it.")),
    "scale": (str, typer.Option("embedded", help="With --preset: embedded (small, CPU) or paper (the paper's settings).")),
    "config": (Path | None, typer.Option(None, help="A run's config.yaml (or any YAML of config fields), or a preset file "
                                         "(a `presets:` mapping like experiments.yaml); flags override it.")),
    "print_config": (bool, typer.Option(False, "--print-config", help="Print the resolved config as YAML and exit; "
                                        "nothing is read or written.")),
}
NOT_CONFIG = ("preset", "scale", "config", "print_config")
PANELS: dict[str, tuple[str, ...]] = {
    DATA: ("views", "dataset", "data_root", "image_size", "limit", "stream", "strict_data", "workers"),
    MODEL: ("encoder", "head"),
    OBJECTIVE: ("objective", "temperature"),
    OPTIMISATION: ("batch_size", "epochs", "lr", "optimizer", "weight_decay"),
    RUN: ("seed", "device", "precision", "knn_monitor", "sync_bn", "log", "preset", "scale", "config", "print_config"),
}


def _shown_default(value: Any) -> str | bool:
    """RunConfig's default as `--help` shows it (False: not shown, where there is none)."""
    if value is None or value == {}:
        return False
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _arrange(options: dict[str, tuple[Any, Any]]) -> None:
    """Each general option into its panel, with RunConfig's default shown where the flag's own is None."""
    config = RunConfig()
    for panel, names in PANELS.items():
        for name in names:
            option = options[name][1]
            option.rich_help_panel = panel
            if option.default is None and hasattr(config, name):
                option.show_default = _shown_default(getattr(config, name))


_arrange(TRAINING_OPTIONS)


def added_options(into: str, options: Mapping[str, tuple[Any, Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command (which takes `into: dict`) each of `options` (name -> (type, typer.Option)) as a
    keyword parameter; their values reach it as that one dict."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != into]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
                 for name, (kind, option) in options.items()]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            collected = {name: kwargs.pop(name) for name in options}
            return command(**kwargs, **{into: collected})

        hints = {k: v for k, v in inspect.get_annotations(command, eval_str=True).items() if k != into}
        wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**hints, **{name: kind for name, (kind, _) in options.items()}}
        del wrapper.__wrapped__  # Typer must read our signature, not the wrapped function's
        return wrapper

    return decorate


def in_panels(panels: Mapping[str, Iterable[str]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Show a command's own options (by parameter name) in `--help` panels: {panel: names}."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        parameters = inspect.signature(command).parameters
        for panel, names in panels.items():
            for name in names:
                parameters[name].default.rich_help_panel = panel
        return command

    return decorate


def declared_flags(owners: Mapping[str, Sequence[Option]], panel: str | None = None) -> dict[str, tuple[Any, Any]]:
    """One flag per option name that any owner declares (a method, a probe task), typed as declared
    and unset by default (None: the owner's default applies, and the owner checks a given value);
    its help says what it means to each owner, with the default and the paper's value; `--help`
    shows it in `panel`."""
    named: dict[str, list[tuple[str, Option]]] = {}
    for owner, options in owners.items():
        for option in options:
            named.setdefault(option.name, []).append((owner, option))
    out = {}
    for name, declared in named.items():
        meanings: dict[tuple[str, Any, Any], list[str]] = {}  # owners that mean the same share one sentence
        for owner, option in declared:
            meanings.setdefault((option.help, option.default, option.paper), []).append(owner)
        sentences = []
        for (meaning, default, paper), who in meanings.items():
            facts = [f"default {default}"] if default is not None else []
            facts += [f"paper: {paper}"] if paper is not None else []
            sentences.append(f"{', '.join(who)}: {meaning}" + (f" ({'; '.join(facts)})" if facts else ""))
        option = declared[0][1]
        flags = (f"{option.cli_flag}/--no-{option.cli_flag[2:]}",) if option.kind is bool else (option.cli_flag,)
        out[name] = (option.kind | None, typer.Option(None, *flags, help="; ".join(sentences) + ".",
                                                      rich_help_panel=panel))
    return out


def method_options(objectives: Iterable[str] | None = None) -> dict[str, tuple[Any, Any]]:
    """One flag per option the methods declare (`objectives`: those names; default: every method that
    `pretrain` trains), each once however many methods take it."""
    return declared_flags({name: method.options for name, method in _catalog.methods().items()
                           if (name in objectives if objectives is not None else not method.command)}, OBJECTIVE)


def task_options() -> dict[str, tuple[Any, Any]]:
    """One flag per option the probe tasks declare (`infomin probe`)."""
    from infomin_cli.evaluate.probes import PROBES

    return declared_flags({name: task.options for name, task in PROBES.items()}, PROBE)


def threads_option(processes: str | None = None, default: Callable[[dict[str, Any]], int | None] | None = None,
                   panel: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command `--threads` and set torch's threads before it runs. `processes`: the name of
    the command's option holding how many processes share the cores (a sweep's `jobs`);
    `default(arguments)`: a command's own default for some arguments (None: the shared one), which
    yields to an OMP_NUM_THREADS the user set; `panel`: where `--help` shows it."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def run(*, computing: dict[str, Any], **kwargs: Any) -> Any:
            given = computing["threads"]
            if given is None and default is not None and threads.user_choice() is None:
                given = default(kwargs)
            threads.apply(given, processes=(kwargs.get(processes) or 1) if processes else 1)
            return command(**kwargs)

        signature = inspect.signature(command)
        computing = inspect.Parameter("computing", inspect.Parameter.KEYWORD_ONLY)
        run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), computing])  # type: ignore[attr-defined]
        run.__annotations__ = inspect.get_annotations(command, eval_str=True)
        del run.__wrapped__
        option = THREADS if panel is None else typer.Option(None, "--threads", help=THREADS_HELP, rich_help_panel=panel)
        return added_options("computing", {"threads": (int | None, option)})(run)

    return decorate


def training_options(only: Iterable[str] | None = None, objectives: Iterable[str] | None = None,
                     processes: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command (which takes `training: dict`) the shared options as keyword parameters: the
    general ones (`only` those names, if given), the method options of `objectives` (default:
    every method `pretrain` trains) and `--threads` (`processes`: as in `threads_option`)."""
    general = {k: v for k, v in TRAINING_OPTIONS.items() if only is None or k in only}

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        return by_panel(threads_option(processes, panel=RUN)(
            added_options("training", {**general, **method_options(objectives)})(command)))

    return decorate


def by_panel(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--help` draws the panels in the order of their first options: the command's own panels
    first, then the training options' in `PANELS` order (Run last), whatever the decorators' order."""
    order = list(PANELS)
    signature = inspect.signature(command)

    def rank(parameter: inspect.Parameter) -> int:
        panel = getattr(parameter.default, "rich_help_panel", None)
        return 1 + order.index(panel) if panel in order else 0

    ranked = sorted(signature.parameters.values(), key=rank)  # stable: arguments keep their order
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in ranked])
    return command


def resolve_training(training: dict[str, Any], resume: Path | None = None, **extra: Any) -> Any:
    """The run's config from the shared options: defaults <- --preset <- --config <- flags (and `extra`,
    what the command itself fixes); continuing the run in `resume`, its own config.yaml <- the flags
    that may change on a resume (`config.resumed`). With --print-config, print it validated and exit."""
    from infomin_cli.config import chosen_preset, get_preset, read_config_file, resolve_config
    from infomin_cli.run_files import CONFIG

    if resume is not None and (resume / CONFIG).is_file():
        return _print_or_return(training, _resumed(training, resume, extra))
    config_file = read_config_file(training["config"]) if training.get("config") is not None else None
    config = resolve_config(training["preset"], overrides(training, **extra), training["scale"], config_file=config_file)
    preset = chosen_preset(training["preset"], config_file)
    if preset and training["scale"] == "embedded":
        paper = get_preset(preset, extra=config_file.presets if config_file else None).get("paper") or {}
        if isinstance(paper.get("epochs"), int) and config.epochs > paper["epochs"]:
            typer.echo(f"warning: --epochs {config.epochs} is more than the paper's own {paper['epochs']} for preset "
                       f"{preset}, on its far larger data (--scale paper); at embedded scale that is long", err=True)
    return _print_or_return(training, config)


def _resumed(training: dict[str, Any], folder: Path, extra: dict[str, Any]) -> Any:
    """The saved config of the run in `folder`, with the flags a resume may change."""
    from infomin_cli.config import resumed
    from infomin_cli.errors import InfominError
    from infomin_cli.results.listing import epochs_done
    from infomin_cli.run_files import CONFIG, read_config

    for name in ("preset", "config"):
        if training.get(name) is not None:
            raise InfominError(f"a resumed run reads its own {folder / CONFIG}; leave out --{name}")
    if training.get("scale") not in (None, "embedded"):
        raise InfominError(f"a resumed run reads its own {folder / CONFIG}; leave out --scale")
    saved = read_config(folder / CONFIG)
    given = {k: v for k, v in overrides(training, **extra).items() if v is not None}
    return resumed(saved, given, epochs_done(folder))


def _print_or_return(training: dict[str, Any], config: Any) -> Any:
    _catalog.check_names(config)  # a typo in a name is one line before the run's modules (and torch) load
    if training.get("print_config"):
        import yaml

        from infomin_cli.runs import validate

        typer.echo(yaml.safe_dump(validate(config).to_dict(), sort_keys=False), nl=False)
        raise typer.Exit(0)
    return config


def overrides(training: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """RunConfig overrides from the shared options (None: not given)."""
    out = {k: v for k, v in training.items() if k not in NOT_CONFIG}
    if out.get("data_root") is not None:
        out["data_root"] = str(out["data_root"])
    return {**out, **extra}


class RunFolderCommand(TyperCommand):
    """A command that trains into a run folder, where `--resume FOLDER` is `--resume --out FOLDER`
    (click options take a value or none, never either: the folder is moved to a hidden option)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = list(args)
        if RESUME in args:
            at = args.index(RESUME)
            if at + 1 < len(args) and not args[at + 1].startswith("-"):
                args[at + 1:at + 2] = [RESUME_FROM, args[at + 1]]
        return super().parse_args(ctx, args)


RESUME, RESUME_FROM = "--resume", "--resume-from"
RUN_FOLDER_OPTIONS: dict[str, tuple[Any, Any]] = {
    "resume": (bool, typer.Option(False, RESUME, rich_help_panel=RUN, help="Continue a run from its last checkpoint, with its own config.yaml: "
                                  "`--resume FOLDER`, or `--resume` with --out. Only --epochs (the cosine is re-planned "
                                  "over the new length) and how it runs (--device, --precision, ...) may change.")),
    "resume_from": (Path | None, typer.Option(None, RESUME_FROM, hidden=True)),
}


def run_folder(out: Path | None, resume: bool, resume_from: Path | None, default: Path) -> tuple[Path, bool]:
    """(the run folder, whether to resume) from --out, --resume and --resume FOLDER."""
    from infomin_cli.errors import InfominError

    if resume_from is not None and out is not None and Path(out) != Path(resume_from):
        raise InfominError(f"--resume {resume_from} and --out {out} name two folders; give one of them")
    folder = resume_from if resume_from is not None else out if out is not None else default
    return Path(folder), resume or resume_from is not None
