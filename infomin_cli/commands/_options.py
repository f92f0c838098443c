"""The training options that `pretrain` and `sweep` share, declared once so they cannot drift.

`@training_options` appends these parameters to a command's signature (Typer reads the
signature) and hands their values to the command as one dict, `training`; `overrides(training)`
turns that dict into RunConfig overrides (None = not given, so presets and defaults apply).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from infomin_cli.options import Option

# one help text for every command that runs a model (pretrain, sweep, learn-views, probe, mi-estimate)
PRECISION_HELP = "auto (default: bf16 on CUDA, fp32 elsewhere), bf16 (bf16 autocast, also on the CPU) or fp32."

# name -> (type, typer.Option). Help texts say what the paper uses where it says.
TRAINING_OPTIONS: dict[str, tuple[Any, Any]] = {
    "views": (str | None, typer.Option(None, help="View family (see `infomin views`), e.g. lab-split, infomin-aug.")),
    "dataset": (str | None, typer.Option(None, help="embedded (default), stl10, cifar10, ... (see `infomin datasets`).")),
    "data_root": (Path | None, typer.Option(None, help="Folder holding the dataset's files (never downloaded).")),
    "encoder": (str | None, typer.Option(None, help="convnet (fast CPU), alexnet-half (CMC), resnet18, resnet50.")),
    "head": (str | None, typer.Option(None, help="Projection head: linear or mlp.")),
    "objective": (str | None, typer.Option(None, help="infonce (default), moco or memory-bank (see `infomin objectives`).")),
    "queue": (int | None, typer.Option(None, help="moco: negatives in the queue, a multiple of the batch size (paper: 65536).")),
    "key_momentum": (float | None, typer.Option(None, help="moco: momentum of the key encoder (default 0.999).")),
    "bank_negatives": (int | None, typer.Option(None, help="memory-bank: negatives drawn per sample (CMC: 16384).")),
    "bank_loss": (str | None, typer.Option(None, help="memory-bank: softmax (default) or nce.")),
    "jigsaw_beta": (float | None, typer.Option(None, help="Weight of the JigSaw loss with level=infomin+jigsaw (paper: 0.5).")),
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
    "precision": (str | None, typer.Option(None, help=PRECISION_HELP)),
    "knn_monitor": (bool | None, typer.Option(None, "--knn-monitor/--no-knn-monitor",
                                                 help="k-NN accuracy on the held-out split every epoch (default on).")),
    "sync_bn": (bool | None, typer.Option(None, "--sync-bn/--no-sync-bn",
                                           help="Under torchrun: BN statistics over the global batch (CUDA only); "
                                                "default: per-GPU BN, MoCo shuffles its keys across GPUs.")),
    "log": (str | None, typer.Option(None, help="tensorboard: also write TensorBoard event files into the run folder.")),
    "stream": (bool | None, typer.Option(None, "--stream/--no-stream",
                                         help="Image folders: read from disk in worker processes (default: when the folder would not fit in memory).")),
    "strict_data": (bool | None, typer.Option(None, "--strict-data", help="Stop on the first unreadable image file (default: skip and count it).")),
    "workers": (int | None, typer.Option(None, help="Processes decoding a streamed folder (default: the cores less one, at most 16).")),
    "preset": (str | None, typer.Option(None, help="A preset from the packaged experiments.yaml; flags override it.")),
    "scale": (str, typer.Option("embedded", help="With --preset: embedded (small, CPU) or paper (the paper's settings).")),
}
NOT_CONFIG = ("preset", "scale")


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


training_options = added_options("training", TRAINING_OPTIONS)


def declared_flags(owners: Mapping[str, Sequence[Option]]) -> dict[str, tuple[Any, Any]]:
    """One flag per option name that any owner declares (an owner: a probe task, a method), typed as
    declared and not given by default (None), its help each owner's with its default; the owner
    that runs checks the values (`check_options`)."""
    named: dict[str, list[tuple[str, Option]]] = {}
    for owner, options in owners.items():
        for option in options:
            named.setdefault(option.name, []).append((owner, option))
    flags = {}
    for name, declared in named.items():
        first = declared[0][1]
        text = "; ".join(f"{owner}: {option.help}" + (f" (default {option.default})" if option.default is not None else "")
                         for owner, option in declared)
        flags[name] = (first.kind | None, typer.Option(None, first.cli_flag, help=text[0].upper() + text[1:] + "."))
    return flags


def overrides(training: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """RunConfig overrides from the shared options (None: not given)."""
    out = {k: v for k, v in training.items() if k not in NOT_CONFIG}
    if out.get("data_root") is not None:
        out["data_root"] = str(out["data_root"])
    return {**out, **extra}
