"""A sweep survives kill -9, never duplicates or loses a point, and shares one CSV between processes.

Training and probing are replaced by a fake module that registers its functions by name (the way
the GPU worker is told what to run) and checkpoints one "epoch" at a time, so these tests exercise
the real resume, locking, subprocess and CSV paths in seconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.results.table import COLUMNS, read_results
from infomin_cli.runs import config_hash
from infomin_cli.sweep.done import done_hashes
from infomin_cli.sweep.job import SweepJob, point_to_dict
from infomin_cli.sweep.plan import plan_points
from infomin_cli.sweep.runner import run_sweep
from infomin_cli.views.base import VIEWS

FAKE = '''
import json, os, time
from pathlib import Path

from infomin_cli.errors import TrainingDiverged
from infomin_cli.sweep.functions import PRETRAINS, PROBERS


def register():
    """Only the sweeping process needs the family; workers get resolved configs (and skip torch)."""
    from infomin_cli.views.base import VIEWS, Knob, ViewFamily, register_family

    if "fake-sweep-aug" not in VIEWS:
        register_family(ViewFamily("fake-sweep-aug", "test", "-", (
            Knob("fake-crop", "float", 0.2, "C.2", "crop", low=0.01, high=1.0),
            Knob("fake-jitter", "float", 1.0, "C.2", "jitter", low=0.0, high=3.0),
        ), build=lambda values, size: None))


@PRETRAINS.register("fake")
def pretrain(config, out_dir, resume=False, progress=False):
    """One 'epoch' per FAKE_EPOCH_SECONDS; the checkpoint is the last finished epoch."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.json"
    start = json.loads(ckpt.read_text())["epoch"] if resume and ckpt.exists() else 0
    with open(out / "starts.txt", "a") as handle:
        handle.write(f"{start}\\n")
    crop = float(config.knobs["fake-crop"])
    if crop == 0.5 and os.environ.get("FAKE_DIVERGE"):
        raise TrainingDiverged("loss became nan")
    for epoch in range(start, config.epochs):
        time.sleep(float(os.environ.get("FAKE_EPOCH_SECONDS", "0")))
        tmp = out / "checkpoint.tmp"
        tmp.write_text(json.dumps({"epoch": epoch + 1}))
        os.replace(tmp, ckpt)
    (out / "gpu.txt").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "-"))
    (out / "threads.txt").write_text(os.environ.get("OMP_NUM_THREADS", "-"))
    return {"run_id": out.name, "i_nce": 2.0 + crop + 0.01 * config.seed}


SEGMENTED = []  # the points a segmentation probe ran on, in this process


@PROBERS.register("fake")
def probe(task, folder, ask, run=None):
    """The sweep's probe hook: the task's rows, each emitted as it is made."""
    base = {"run_id": Path(folder).name, "unit": "%", "views": "fake-sweep-aug",
            "dataset": "fake" + (f"->{ask.dataset}" if ask.dataset else "")}
    if task.name == "segmentation":
        SEGMENTED.append(Path(folder).name)
        rows = [{**base, "probe_label": "glyph", "metric_name": metric, "metric_value": value}
                for metric, value in (("miou", 40.0), ("pixel_acc", 90.0))]
    else:
        rows = [{**base, "probe_label": ask.labels[0], "metric_name": "top1", "metric_value": 60.0}]
    for row in rows:
        ask.emit(row)
    return rows
'''

SCRIPT = '''
import json, sys
from pathlib import Path
import fake_point  # registers the fake functions the job names
from infomin_cli.sweep.job import point_from_dict
from infomin_cli.sweep.runner import run_sweep

# points planned by the test (as the GPU worker receives them), so this process never imports torch
specs = json.loads(Path(sys.argv[1]).read_text())
points = [point_from_dict(spec)[0] for spec in specs]
job = point_from_dict(specs[0])[1]
run_sweep(points, job, gpus=sys.argv[2].split(",") if len(sys.argv) > 2 else [], show=False)
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake module on sys.path (for us and for child processes), its functions and family registered."""
    (tmp_path / "fake_point.py").write_text(FAKE)
    (tmp_path / "sweep_script.py").write_text(SCRIPT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delitem(sys.modules, "fake_point", raising=False)
    monkeypatch.delitem(VIEWS._items, "fake-sweep-aug", raising=False)
    with registered_here():
        import fake_point

        fake_point.register()
        yield tmp_path
    VIEWS._items.pop("fake-sweep-aug", None)


@contextlib.contextmanager
def registered_here():
    """Point functions registered inside are gone afterwards (the next test imports its module afresh)."""
    from infomin_cli.sweep.functions import PRETRAINS, PROBERS

    before = {registry: dict(registry._items) for registry in (PRETRAINS, PROBERS)}
    try:
        yield
    finally:
        for registry, items in before.items():
            registry._items = items


def _points(root: Path):
    return plan_points(RunConfig(epochs=4), VIEWS.get("fake-sweep-aug"), "fake-crop", [0.1, 0.5, 1.0], 2, root / "runs")


def _job(root: Path, **settings) -> SweepJob:
    return SweepJob(**{"csv": root / "sweep.csv", "pretrain": "fake", "probe": "fake",
                       "probe_task": "classification", "label": "class", **settings})


def _sweep(root: Path, *extra: str, points=None, **env: str) -> subprocess.Popen:
    plan = root / "plan.json"
    plan.write_text(json.dumps([point_to_dict(p, _job(root)) for p in points or _points(root)]))
    return subprocess.Popen([sys.executable, str(root / "sweep_script.py"), str(plan), *extra],
                            env={**os.environ, **env}, stderr=subprocess.PIPE)


def _assert_each_point_exactly_once(root: Path, points=None) -> None:
    rows = read_results(root / "sweep.csv", required=COLUMNS)
    assert sorted(rows["config_hash"]) == sorted(p.config_hash for p in points or _points(root))


def test_points_differ_only_in_knob_and_seed_and_carry_the_familys_defaults(fake):
    points = _points(fake)
    assert [(p.value, p.seed) for p in points] == [(0.1, 0), (0.5, 0), (1.0, 0), (0.1, 1), (0.5, 1), (1.0, 1)]
    assert points[0].config.knobs == {"fake-crop": 0.1, "fake-jitter": 1.0}
    assert len({p.config_hash for p in points}) == 6 and points[0].config_hash in points[0].run_dir.name


def test_rows_say_which_point_they_are(fake):
    run_sweep(_points(fake), _job(fake), gpus=[], show=False)
    rows = read_results(fake / "sweep.csv", required=COLUMNS)
    assert list(rows["knob_name"].unique()) == ["fake-crop"]
    assert sorted(zip(rows["knob_value"], rows["seed"], strict=True)) == sorted(
        [(v, s) for v in (0.1, 0.5, 1.0) for s in (0, 1)])
    assert rows.loc[rows["knob_value"] == 1.0, "i_nce"].tolist() == pytest.approx([3.0, 3.01])


def test_a_transfer_probe_dataset_reaches_every_points_probe(fake):
    job = _job(fake, probe_dataset="stl10", probe_data_root="/data/stl10")
    run_sweep(_points(fake), job, gpus=[], show=False)
    assert set(read_results(fake / "sweep.csv", required=COLUMNS)["dataset"]) == {"fake->stl10"}


def test_with_negatives_each_rows_i_nce_is_measured_against_n_held_out_keys(tmp_path, tiny_config):
    family = VIEWS.get("lab-split")
    points = plan_points(tiny_config.merged({"epochs": 1}), family, "crop-scale", [0.5, 1.0], 1, tmp_path / "runs")
    job = SweepJob(csv=tmp_path / "sweep.csv", probe_epochs=2, negatives=64)  # tiny's whole test split
    run_sweep(points, job, gpus=[], show=False)
    rows = read_results(tmp_path / "sweep.csv", required=COLUMNS)
    assert rows["K"].tolist() == [64, 64] and (rows["i_nce"] <= math.log(64)).all()
    in_batch = [json.loads((p.run_dir / "summary.json").read_text())["i_nce"] for p in points]
    assert rows["i_nce"].tolist() != pytest.approx(in_batch)


def test_bad_input_stops_the_sweep_at_the_first_point_instead_of_training_them_all(tmp_path, tiny_config):
    family = VIEWS.get("lab-split")
    points = plan_points(tiny_config.merged({"epochs": 1}), family, "crop-scale", [0.5, 1.0], 1, tmp_path / "runs")
    job = SweepJob(csv=tmp_path / "sweep.csv", probe_epochs=2, negatives=100)  # tiny's test split has 64
    with pytest.raises(InfominError, match="--negatives 100"):
        run_sweep(points, job, gpus=[], show=False)
    assert (points[0].run_dir / "checkpoint.pt").is_file()  # kept: a corrected rerun resumes it
    assert not (points[1].run_dir / "checkpoint.pt").exists() and not job.csv.exists()


def test_rerun_skips_complete_points_by_hash_not_position(fake):
    points = _points(fake)
    run_sweep(points[:2], _job(fake), gpus=[], show=False)
    run_sweep(list(reversed(points)), _job(fake), gpus=[], show=False)  # same points, other order, more of them
    _assert_each_point_exactly_once(fake)
    assert (points[0].run_dir / "starts.txt").read_text() == "0\n"  # trained once, never again


def test_kill_9_mid_sweep_then_rerun_loses_and_duplicates_nothing(fake):
    proc = _sweep(fake, FAKE_EPOCH_SECONDS="0.15")
    csv, deadline = fake / "sweep.csv", time.time() + 40
    while time.time() < deadline:  # wait until two rows are in and a third point is mid-training
        time.sleep(0.05)
        if csv.is_file() and len(csv.read_text().splitlines()) >= 3 and any(
            (p.run_dir / "checkpoint.json").is_file() for p in _points(fake)[2:]
        ):
            break
    else:
        proc.kill()
        pytest.fail(f"the sweep never got going: {proc.communicate()[1].decode()[-500:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = done_hashes(_job(fake), _points(fake))
    assert 2 <= len(done_before) < 6

    rerun = _sweep(fake)
    assert rerun.wait(timeout=60) == 0, rerun.stderr.read().decode()[-800:]
    _assert_each_point_exactly_once(fake)
    starts = {p.config_hash: (p.run_dir / "starts.txt").read_text().split() for p in _points(fake)}
    assert all(starts[h] == ["0"] for h in done_before)  # finished points were not retrained
    resumed = [s for s in starts.values() if len(s) == 2]
    assert resumed and int(resumed[0][1]) > 0  # the point in flight continued from its checkpoint


def test_concurrent_sweeps_share_the_points_and_the_csv(fake):
    procs = [_sweep(fake, FAKE_EPOCH_SECONDS="0.05") for _ in range(3)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-800:]
    _assert_each_point_exactly_once(fake)  # every row whole, none twice, none missing
    assert all((p.run_dir / "starts.txt").read_text() == "0\n" for p in _points(fake))


def test_several_gpus_run_one_worker_process_per_device(fake, monkeypatch):
    points = _points(fake)[:3]  # each worker is a fresh interpreter: keep the count small
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    run_sweep(points, _job(fake), gpus=["0", "1"], show=False)
    _assert_each_point_exactly_once(fake, points)
    assert {(p.run_dir / "gpu.txt").read_text() for p in points} == {"0", "1"}


def test_jobs_on_a_cpu_run_that_many_workers_with_the_cores_split_and_no_gpu(fake, monkeypatch):
    points = _points(fake)[:3]
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    monkeypatch.setattr("infomin_cli.runtime.threads.cores", lambda: 8)  # the cores this process may use
    monkeypatch.delenv("OMP_NUM_THREADS")  # no choice of the user's (the suite sets one)
    run_sweep(points, _job(fake), gpus=[], show=False, jobs=2)
    _assert_each_point_exactly_once(fake, points)
    assert {(p.run_dir / "gpu.txt").read_text() for p in points} == {""}  # CUDA hidden from CPU workers
    assert {(p.run_dir / "threads.txt").read_text() for p in points} == {"4"}  # 8 cores / 2 workers
    assert all((p.run_dir / "sweep_worker.log").is_file() for p in points)  # each ran in a worker process


def test_jobs_with_one_gpu_run_that_many_workers_sharing_it(fake, monkeypatch):
    points = _points(fake)[:3]
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.2")
    monkeypatch.setattr("infomin_cli.runtime.threads.cores", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS")
    run_sweep(points, _job(fake), gpus=["5"], show=False, jobs=2)
    _assert_each_point_exactly_once(fake, points)
    assert {(p.run_dir / "gpu.txt").read_text() for p in points} == {"5"}  # every worker sees the one GPU
    assert {(p.run_dir / "threads.txt").read_text() for p in points} == {"4"}  # and its share of the cores


def test_a_worker_slot_is_one_per_gpu_else_jobs_on_the_one_gpu_else_jobs_on_the_cpu():
    from infomin_cli.sweep.runner import worker_slots

    assert worker_slots(["0", "1"], 4) == ["0", "1"]  # several GPUs: one worker each, --jobs aside
    assert worker_slots(["2"], 3) == ["2@0", "2@1", "2@2"]
    assert worker_slots([], 2) == ["cpu0", "cpu1"]
    assert worker_slots(["2"], None) == ["2"] and worker_slots([], 1) == []


def test_a_diverged_point_is_reported_and_the_rest_of_the_curve_still_runs(fake, monkeypatch):
    monkeypatch.setenv("FAKE_DIVERGE", "1")
    with pytest.raises(InfominError, match=r"2 of 6 points failed \(fake-crop=0.5 seed 0: loss became nan"):
        run_sweep(_points(fake), _job(fake), gpus=[], show=False)
    assert len(done_hashes(_job(fake), _points(fake))) == 4


def test_live_display_renders_the_finished_points_table(fake, capsys):
    from rich.console import Console

    from infomin_cli.sweep.display import SweepDisplay

    console = Console(record=True, width=120, force_terminal=False)
    display = SweepDisplay("toy sweep", total=2, enabled=False, console=console)
    point = _points(fake)[0]
    display.point_done(point, {"i_nce": 2.1234, "metric_value": 61.5, "wall_seconds": 12.0})
    assert "fake-crop=0.1 seed 0: 2.123 nats, top1 61.50" in console.export_text()  # the --quiet line
    console.print(display)
    text = console.export_text()
    assert "toy sweep" in text and "│ 0.1 " in text and "2.123" in text and "61.50" in text


def test_a_row_without_i_nce_shows_a_dash_not_nan(fake):
    from rich.console import Console

    from infomin_cli.sweep.display import SweepDisplay

    console = Console(record=True, width=120, force_terminal=False)
    display = SweepDisplay("toy sweep", total=1, enabled=False, console=console)
    display.point_done(_points(fake)[0], {"i_nce": float("nan"), "metric_value": 61.5})  # as read back from a CSV
    assert "fake-crop=0.1 seed 0: - nats, top1 61.50" in console.export_text()


def test_family_defaults_give_the_same_hash_the_trainer_saves(fake):
    from infomin_cli.runs import validate

    point = _points(fake)[0]
    assert config_hash(validate(point.config)) == point.config_hash


def test_a_segmentation_sweep_adds_miou_rows_to_finished_points_without_reprobing(fake):
    """A point is done per metric it needs: the accuracy rows stay, the mIoU rows are added once."""
    import fake_point

    points = _points(fake)
    run_sweep(points, _job(fake), gpus=[], show=False)  # accuracy only
    seg_job = _job(fake, probe_task="segmentation")
    run_sweep(points, seg_job, gpus=[], show=False)
    run_sweep(points, seg_job, gpus=[], show=False)  # all done: nothing runs
    rows = read_results(fake / "sweep.csv", required=COLUMNS)
    counts = rows.groupby("metric_name")["config_hash"].agg(lambda h: sorted(h))
    expected = sorted(p.config_hash for p in points)
    assert counts["top1"] == counts["miou"] == counts["pixel_acc"] == expected
    assert len(fake_point.SEGMENTED) == len(points)
    miou = rows[rows["metric_name"] == "miou"].set_index("config_hash")
    top1 = rows[rows["metric_name"] == "top1"].set_index("config_hash")
    assert (miou["i_nce"] == top1.loc[miou.index, "i_nce"]).all()  # the point's I_NCE, for the x-axis


def test_a_rerun_with_other_probe_epochs_re_probes_without_retraining(fake):
    points = _points(fake)[:2]
    run_sweep(points, _job(fake), gpus=[], show=False)
    longer = _job(fake, probe_epochs=30)
    run_sweep(points, longer, gpus=[], show=False)
    run_sweep(points, longer, gpus=[], show=False)  # now in the CSV: nothing more
    rows = read_results(fake / "sweep.csv", required=COLUMNS)
    assert sorted(rows["probe_epochs"].tolist()) == [30, 30, 100, 100]
    assert set(rows["probe_task"]) == {"classification"}
    assert all((p.run_dir / "starts.txt").read_text().split() == ["0", "4"] for p in points)  # resumed when finished


def test_a_rerun_with_other_negatives_re_estimates_without_re_probing(tmp_path, tiny_config, monkeypatch):
    family = VIEWS.get("lab-split")
    points = plan_points(tiny_config.merged({"epochs": 1}), family, "crop-scale", [0.5], 1, tmp_path / "runs")
    run_sweep(points, SweepJob(csv=tmp_path / "sweep.csv", probe_epochs=2), gpus=[], show=False)
    from infomin_cli.sweep.functions import PROBERS

    def no_probe(*args, **kwargs):
        raise AssertionError("re-probed")

    job = SweepJob(csv=tmp_path / "sweep.csv", probe_epochs=2, negatives=64, probe="no-probe")
    with registered_here():
        PROBERS.add("no-probe", no_probe)
        run_sweep(points, job, gpus=[], show=False)
    rows = read_results(tmp_path / "sweep.csv", required=COLUMNS)
    assert rows["K"].tolist() == [32, 64] and rows["metric_value"].nunique() == 1
    assert rows["i_nce"].iloc[0] != rows["i_nce"].iloc[1]


def test_preflight_names_a_damaged_checkpoint_of_a_point_still_to_run_before_any_training(fake):
    from infomin_cli.sweep.runner import preflight

    points = _points(fake)
    job = SweepJob(csv=fake / "sweep.csv")
    points[3].run_dir.mkdir(parents=True)
    (points[3].run_dir / "checkpoint.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(InfominError, match=r"checkpoint\.pt is damaged"):
        preflight(points, job)
    assert not points[0].run_dir.exists()
