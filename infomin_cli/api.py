"""The Python API: `from infomin_cli import pretrain, probe, sweep, estimate`.

Each function is its command (`infomin pretrain`, `probe`, `sweep`, `mi-estimate`) without the
command line: it takes the command's options as keyword arguments, named as the flags are with
underscores (`--batch-size 32` is `batch_size=32`, `--knob crop-scale=0.2` is
`knob={"crop-scale": 0.2}` or `knob=["crop-scale=0.2"]`), runs the code the command runs (the
`commands/` modules' functions, so the two cannot drift), writes the same files and rows, and
returns plain Python data instead of printing it. Bad input raises `InfominError` before anything
is read or written, with the line the command prints after `error: `.

Like the commands, each function sets torch's CPU threads first (`threads=N`, else
OMP_NUM_THREADS, else the cores this process may use); progress bars go to stderr (`quiet=True`:
none). A runnable example: docs/api_example.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from infomin_cli import ranges
from infomin_cli.errors import InfominError
from infomin_cli.runtime import threads as _threads

__all__ = ["pretrain", "probe", "sweep", "estimate", "InfominError"]

_threads.quiet_waiting()  # before torch loads, as the CLI does


def pretrain(*, out: str | Path | None = None, resume: bool | str | Path = False,
             knob: Mapping[str, Any] | Sequence[str] | None = None, quiet: bool = False, threads: int | None = None,
             **options: Any) -> dict[str, Any]:
    """Train a run, as `infomin pretrain`; returns its summary.json (config_hash, loss, i_nce, K,
    log_K, knn_top1, epochs, wall_seconds, ...).

    `options`: the command's training options and method options (`views="lab-split"`,
    `epochs=1`, `preset="demo"`, `scale="paper"`, `config="runs/x/config.yaml"`, `queue=4096`, ...).
    `resume=True` continues the run in `out`; `resume="runs/x"` continues the run in runs/x.
    """
    from infomin_cli.commands.pretrain import train

    training = _training("pretrain", options)
    _threads.apply(threads)
    resume_from = None if isinstance(resume, bool) else Path(resume)
    return train(training, out=_path(out), resume=resume is True, resume_from=resume_from, knob=_knobs(knob),
                 quiet=quiet)


def probe(run: str | Path, *, label: str | Sequence[str] | None = None, layer: str | None = None,
          random_init: bool = False, results: str | Path = "results.csv", device: str = "auto",
          precision: str | None = None, dataset: str | None = None, data_root: str | Path | None = None,
          task: str | None = None, stream: bool | None = None, threads: int | None = None,
          **options: Any) -> list[dict[str, Any]]:
    """Probe the frozen encoder of the run in `run`, as `infomin probe`; returns the task's rows
    (one per label, layer and metric: `metric_name`, `metric_value`, `unit`, `probe_label`, ...),
    appended to `results` unless the same probe's rows are already there.

    `options`: the probe task's options (`epochs=20`, `classes=13`, ...; see `infomin probes`).
    """
    from infomin_cli.commands._options import task_options
    from infomin_cli.commands.probe import run_probe
    from infomin_cli.results.rows import clean

    given = _checked("probe", options, task_options())
    _threads.apply(threads)
    labels = [label] if isinstance(label, str) else list(label or [])
    _, rows, _ = run_probe(Path(run), label=labels, layer=layer, random_init=random_init, results=Path(results),
                           device=device, precision=precision, dataset=dataset, data_root=_path(data_root),
                           task=task, stream=stream, given=given)
    return [clean(row) for row in rows]


def sweep(knob: str | None = None, spec: str | Iterable[Any] | None = None, *, seeds: int | None = None,
          out: str | Path | None = None, runs_dir: str | Path = "runs/sweeps", label: str | None = None,
          probe_epochs: int | None = None, probe_dataset: str | None = None,
          probe_data_root: str | Path | None = None, negatives: int | None = None, probe_task: str | None = None,
          seg_epochs: int | None = None, quiet: bool = False, jobs: int | None = None, launcher: str = "local",
          gpus_per_point: int | None = None, slurm_partition: str | None = None, slurm_time: str | None = None,
          slurm_account: str | None = None, slurm_qos: str | None = None, slurm_folder: str | Path | None = None,
          slurm_option: Sequence[str] | None = None, wait: bool = True, threads: int | None = None,
          **options: Any) -> list[dict[str, Any]]:
    """Sweep one view knob, as `infomin sweep`: every point not yet in the CSV `out` pretrains,
    measures held-out I_NCE and probes; returns the row that stands for each point (its
    `knob_value`, `seed`, `i_nce`, `metric_name`, `metric_value`, ...): `pandas.DataFrame(rows)`
    is the curve.

    `spec`: as on the command line ("0.08:1.0:6", "0.2,1.0"), or the values themselves
    (`[0.2, 1.0]`). `options`: the training options, as for `pretrain` (`preset=...` may plan the
    whole sweep).
    """
    from infomin_cli.commands.sweep import run

    for name, value in (("seeds", seeds), ("probe_epochs", probe_epochs), ("negatives", negatives),
                        ("seg_epochs", seg_epochs), ("jobs", jobs), ("gpus_per_point", gpus_per_point)):
        ranges.check(name, value)
    training = _training("sweep", options)
    _threads.apply(threads, processes=jobs or 1)
    if spec is not None and not isinstance(spec, str):
        spec = ",".join(str(value) for value in spec)
    return run(training, knob, spec, seeds=seeds, out=_path(out), runs_dir=Path(runs_dir), label=label,
               probe_epochs=probe_epochs, probe_dataset=probe_dataset, probe_data_root=_path(probe_data_root),
               negatives=negatives, probe_task=probe_task, seg_epochs=seg_epochs, quiet=quiet, jobs=jobs,
               launcher=launcher, gpus_per_point=gpus_per_point, slurm_partition=slurm_partition,
               slurm_time=slurm_time, slurm_account=slurm_account, slurm_qos=slurm_qos,
               slurm_folder=_path(slurm_folder), slurm_option=list(slurm_option or []) or None, wait=wait)


def estimate(run: str | Path | None = None, *, views: str | None = None,
             knob: Mapping[str, Any] | Sequence[str] | None = None, dataset: str = "embedded",
             data_root: str | Path | None = None, source: str | None = None, dim: int = 20,
             mi: str | Iterable[float] = "0,2,4,6,8,10", estimators: str | Iterable[str] = "infonce",
             critic: str = "separable", steps: int | None = None, batch_size: int | None = None,
             eval_batches: int = 50, clip: float = 5.0, ksg_samples: int = 2000, seed: int = 0,
             units: str = "nats", results: str | Path | None = None, negatives: int | None = None,
             device: str = "auto", precision: str | None = None, quiet: bool = False,
             threads: int | None = None) -> list[dict[str, Any]]:
    """Estimate mutual information, as `infomin mi-estimate`: of a trained run (`run`), of a view
    family through a fresh critic (`views=`), or of a known-MI source (`source=`); returns one dict
    per estimate (`value`, `unit`, `K`, `log_K`, `ci_low`, `ci_high`, `saturated`, ...), each
    appended to `results` when given.
    """
    from infomin_cli.commands.mi_estimate import estimate_rows

    for name, value in (("negatives", negatives), ("dim", dim), ("steps", steps), ("batch_size", batch_size),
                        ("eval_batches", eval_batches), ("clip", clip), ("ksg_samples", ksg_samples), ("seed", seed)):
        ranges.check(name, value)
    one_thread = source is not None and _threads.user_choice() is None  # small critics: as the command
    _threads.apply(threads if threads is not None or not one_thread else 1)
    rows = estimate_rows(_path(run), negatives=negatives, views=views, knob=_knobs(knob), dataset=dataset,
                         data_root=_path(data_root), source=source, dim=dim, mi=_joined(mi), estimators=_joined(estimators),
                         critic=critic, steps=steps, batch_size=batch_size, eval_batches=eval_batches, clip=clip,
                         ksg_samples=ksg_samples, seed=seed, units=units, results=_path(results), device=device,
                         precision=precision, quiet=quiet)
    return [row.to_json() for row in rows]


def _training(command: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The shared training options as the command hands them on: every name, None where not given."""
    from infomin_cli.commands._options import TRAINING_OPTIONS, method_options

    declared = {k: v for k, v in {**TRAINING_OPTIONS, **method_options()}.items() if k != "print_config"}
    training = {name: None for name in declared}
    training.update({"scale": "embedded", "print_config": False})
    training.update(_checked(command, options, declared))
    for name in ("data_root", "config"):
        training[name] = _path(training[name])
    return training


def _checked(command: str, options: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """`options` whose names the command declares, each in its range: what its parser would accept."""
    for name, value in options.items():
        if name not in declared:  # in Click's words, as the command says it
            close = get_close_matches(ranges.flag(name), [ranges.flag(known) for known in declared])
            hint = f" (Possible options: {', '.join(sorted(close))})" if close else ""
            raise InfominError(f"No such option: {ranges.flag(name)}{hint}; see `infomin {command} --help`")
        ranges.check(name, value)
    return dict(options)


def _knobs(knob: Mapping[str, Any] | Sequence[str] | None) -> list[str] | None:
    if knob is None:
        return None
    if isinstance(knob, str):
        return [knob]
    if isinstance(knob, Mapping):
        return [f"{name}={value}" for name, value in knob.items()]
    return list(knob)


def _joined(values: str | Iterable[Any]) -> str:
    return values if isinstance(values, str) else ",".join(str(value) for value in values)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
