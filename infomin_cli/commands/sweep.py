"""`infomin sweep KNOB SPEC` (or `--preset NAME`): trace one curve of the paper, resumably."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from infomin_cli import ranges
from infomin_cli.commands._options import RUN, in_panels, resolve_training, training_options
from infomin_cli.config import chosen_preset, get_preset, read_config_file
from infomin_cli.errors import InfominError
from infomin_cli.evaluate.probes import PROBES
from infomin_cli.paths import check_output_dir
from infomin_cli.results.table import check_appendable

# the sweep's own options in `--help`; the training options have theirs (_options.PANELS)
PANELS = {
    "Sweep": ("seeds", "out", "runs_dir", "jobs"),
    "Probe": ("label", "probe_epochs", "probe_dataset", "probe_data_root", "negatives", "probe_task", "seg_epochs"),
    "Cluster": ("launcher", "gpus_per_point", "slurm_partition", "slurm_time", "slurm_account", "slurm_qos",
                "slurm_folder", "slurm_option", "wait"),
    RUN: ("quiet", "json_out"),
}


def register(app: typer.Typer) -> None:
    @app.command()
    @training_options(processes="jobs")  # --jobs N: N processes share the cores
    @in_panels(PANELS)
    def sweep(
        knob: str = typer.Argument(None, help="The knob to sweep, e.g. crop-scale, sigma, space, distance."),
        spec: str = typer.Argument(None, help="LOW:HIGH (6 points), LOW:HIGH:N, LOW:HIGH:N:log, a comma list, or names for a choice knob."),
        seeds: int = typer.Option(None, help="Repeat each point with this many seeds (default 1, or the preset's)."),
        out: Path = typer.Option(None, help="Results CSV (default results/<preset or knob>.csv); rows are appended."),
        runs_dir: Path = typer.Option(Path("runs/sweeps"), help="One run folder per point here, named by config hash."),
        label: str = typer.Option(None, help="Label the probe predicts (default: the preset's, else the dataset's main label, e.g. class)."),
        probe_epochs: int = typer.Option(None, help="Linear-probe epochs per point (default 100, or the preset's)."),
        probe_dataset: str = typer.Option(None, help="Probe on another dataset than the one pretrained on (default: the preset's, else the same)."),
        probe_data_root: Path = typer.Option(None, help="Where --probe-dataset's files are."),
        negatives: int = typer.Option(None, help="Measure each point's I_NCE against N held-out keys (K = N) instead of the batch (default: the preset's)."),
        probe_task: str = typer.Option(None, help=f"The probe task of every point: {', '.join(PROBES.names())} (see `infomin probes`; default: the preset's, else the one the dataset asks for)."),
        seg_epochs: int = typer.Option(None, help="Segmentation decoder epochs per point (default: the task's, 5)."),
        quiet: bool = typer.Option(False, help="No live display; one line per finished point."),
        jobs: int = typer.Option(None, help="local, without several GPUs: run N points at once in N worker processes, sharing the one GPU (small models leave most of it idle) or, without one, the CPU cores split between them (e.g. 2 on a 2-core laptop)."),
        launcher: str = typer.Option("local", help="local (points run here, one per GPU), slurm (one submitit job per point), or submitit-local (the slurm path on this machine)."),
        gpus_per_point: int = typer.Option(None, help="slurm: train each point with torchrun on N GPUs of one node (default 1)."),
        slurm_partition: str = typer.Option(None, help="slurm: partition to submit to."),
        slurm_time: str = typer.Option(None, help="slurm: time limit per job, minutes or D-HH:MM:SS (default 24:00:00); a job that reaches it requeues and resumes."),
        slurm_account: str = typer.Option(None, help="slurm: account to charge (sbatch --account)."),
        slurm_qos: str = typer.Option(None, help="slurm: quality of service (sbatch --qos)."),
        slurm_folder: Path = typer.Option(None, help="slurm: job scripts and logs (default RUNS_DIR/submitit)."),
        slurm_option: list[str] = typer.Option(None, help="slurm: any other sbatch option as KEY=VALUE (repeatable), e.g. constraint=h100, mem_gb=200."),
        wait: bool = typer.Option(True, "--wait/--no-wait", help="slurm: watch the jobs until every point is in the CSV (default), or return after submitting."),
        json_out: bool = typer.Option(False, "--json", help="End with the points' rows as one JSON list (the row that stands for each point) instead of the summary lines."),
        training: dict[str, Any] = None,
    ) -> None:
        """Sweep one view knob: each point pretrains, measures held-out I_NCE, probes, appends a row."""
        rows = run(training, knob, spec, seeds=seeds, out=out, runs_dir=runs_dir, label=label,
                   probe_epochs=probe_epochs, probe_dataset=probe_dataset, probe_data_root=probe_data_root,
                   negatives=negatives, probe_task=probe_task, seg_epochs=seg_epochs, quiet=quiet, jobs=jobs,
                   launcher=launcher, gpus_per_point=gpus_per_point, slurm_partition=slurm_partition,
                   slurm_time=slurm_time, slurm_account=slurm_account, slurm_qos=slurm_qos,
                   slurm_folder=slurm_folder, slurm_option=slurm_option, wait=wait,
                   say=None if json_out else typer.echo)
        if json_out:
            typer.echo(json.dumps(rows))

    # what Ctrl-C leaves (cli.interrupt_advice): the finished points' rows, and the way on
    sweep.interrupt_advice = ("interrupted; finished points are in the CSV and a point's run folder keeps its "
                              "last epoch: rerun the same command to continue")


def run(training: dict[str, Any], knob: str | None, spec: str | None, *, seeds: int | None = None,
        out: Path | None = None, runs_dir: Path = Path("runs/sweeps"), label: str | None = None,
        probe_epochs: int | None = None, probe_dataset: str | None = None, probe_data_root: Path | None = None,
        negatives: int | None = None, probe_task: str | None = None, seg_epochs: int | None = None,
        quiet: bool = False, jobs: int | None = None, launcher: str = "local", gpus_per_point: int | None = None,
        slurm_partition: str | None = None, slurm_time: str | None = None, slurm_account: str | None = None,
        slurm_qos: str | None = None, slurm_folder: Path | None = None, slurm_option: list[str] | None = None,
        wait: bool = True, say: Callable[[str], Any] | None = None) -> list[dict[str, Any]]:
    """What `infomin sweep` does, for the command and for the Python API (`infomin_cli.api.sweep`):
    plan the points, refuse bad input before any point folder exists, run them; returns the row that
    stands for each point found in the CSV (the probe task's last wanted row: its I_NCE and accuracy).
    `say` gets the lines the command prints on stdout (None: nothing is printed)."""
    say = say or (lambda text: None)
    from infomin_cli.results.rows import clean
    from infomin_cli.sweep.cluster import make_launch, run_cluster_sweep
    from infomin_cli.sweep.job import SweepJob
    from infomin_cli.sweep.spec import find_knob, format_value, parse_spec

    launch = make_launch(launcher, gpus_per_point, slurm_partition, slurm_time, slurm_account, slurm_qos,
                         slurm_folder, slurm_option, wait)

    config_file = read_config_file(training["config"]) if training["config"] is not None else None
    preset, scale, views = chosen_preset(training["preset"], config_file), training["scale"], training["views"]
    extra = config_file.presets if config_file else None
    plan: dict[str, Any] = dict(get_preset(preset, extra=extra).get("sweep") or {}) if preset else {}
    if scale == "paper":  # the paper's own points, seeds and probe length
        plan.update(plan.pop("paper", None) or {})
    knob = plan.get("knob") if knob is None else knob  # given, even empty, is what runs
    spec = (str(plan["spec"]) if "spec" in plan else None) if spec is None else spec
    if knob is None or spec is None:
        raise InfominError("give KNOB and SPEC (e.g. `infomin sweep crop-scale 0.08:1.0`) or a --preset with a sweep")
    base = resolve_training(training)
    # torch loads here, after the names are checked (resolve_training): a typo is answered at once
    from infomin_cli.data import DATASETS
    from infomin_cli.evaluate.probes import default_task
    from infomin_cli.sweep.plan import plan_points
    from infomin_cli.sweep.runner import preflight, run_sweep

    family, knob_def = find_knob(knob, views or (base.views if preset else None))
    values = parse_spec(knob_def, spec)
    def given_or_planned(name: str, value: Any, default: Any = None) -> Any:
        """The flag if given (0 is a value, not "not given"), else the preset's, checked alike."""
        value = plan.get(name, default) if value is None else value
        ranges.check(name, value)
        return value

    n_seeds = int(given_or_planned("seeds", seeds, 1))
    csv = out if out is not None else Path("results") / f"{preset or knob}.csv"
    check_appendable(csv, "--out")
    check_output_dir(runs_dir, "--runs-dir")
    points = plan_points(base, family, knob_def.name, values, n_seeds, runs_dir)
    probed = given_or_planned("probe_dataset", probe_dataset)
    data_name = probed or points[0].config.dataset
    data = DATASETS.get(data_name)  # an unknown name fails now, not after the first point's training
    task_name = given_or_planned("probe_task", probe_task)
    if task_name is not None and task_name not in PROBES:
        raise InfominError(f"--probe-task {task_name!r} is not valid; choose one of: {', '.join(PROBES.names())}")
    task = PROBES.get(task_name) if task_name else default_task(data)
    label = given_or_planned("label", label)
    known = (*data.labels, *data.targets)  # what the probed dataset declares it holds
    if label is not None and label not in known:
        raise InfominError(f"--label {label!r}: dataset {data_name!r} has no such label; its labels: "
                           f"{', '.join(known) or 'none'}")
    job = SweepJob(csv=csv, label=label,
                   probe_epochs=int(given_or_planned("probe_epochs", probe_epochs, 100)),
                   probe_dataset=probed,
                   probe_data_root=given_or_planned("probe_data_root", None if probe_data_root is None
                                                    else str(probe_data_root)),
                   negatives=given_or_planned("negatives", negatives), probe_task=task.name,
                   seg_epochs=given_or_planned("seg_epochs", seg_epochs))
    for needed in (*task.also, task.name):  # before any point trains: a task the dataset cannot serve
        PROBES.get(needed).check_serves(data, data_name, "--probe-task")
    refused = [flag for flag, given, allowed in (("--negatives", job.negatives, task.negatives),
                                                 ("--probe-dataset", job.probe_dataset, task.transfer))
               if given is not None and not allowed]
    if refused:
        raise InfominError(f"--probe-task {task.name} takes neither --negatives nor --probe-dataset; leave out "
                           f"{' and '.join(refused)}")
    if task.references:
        from infomin_cli.sweep.plan import reference_points

        points += reference_points(points, runs_dir, task.references)
    if job.negatives is not None and job.negatives < base.batch_size:
        raise InfominError(f"--negatives {job.negatives} must be at least the batch size {base.batch_size}")
    title = (f"{base.dataset} · {family.name} · {knob_def.name} = "
             f"{', '.join(format_value(v) for v in values)} · {n_seeds} seed(s)")
    preflight(points, job)  # the CSV, the run folders and their files, the data: before any folder is made
    # stdout, like the closing line: stderr holds only the live display and, on bad input, one line
    say(f"sweep: {len(points)} points -> {csv}")
    if launch.launcher == "local":
        rows = run_sweep(points, job, show=not quiet, title=title, jobs=jobs)
    else:
        rows = run_cluster_sweep(points, job, launch, runs_dir, show=not quiet, title=title)
        if not launch.wait:
            say(f"submitted; rerun the same command to see the points finish in {csv}")
            return [clean(row) for row in rows if row]
    say(f"done: {csv}  (plot it: infomin {task.plot} {csv})")
    return [clean(row) for row in rows if row]
