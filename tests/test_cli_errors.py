"""Bad input: one line on stderr that lists the valid choices, exit code 2, no traceback."""

import subprocess
import sys

import pytest

from infomin_cli.cli import main


def run_main(capsys, *args):
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    return exited.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["pretrain", "--views", "nope"], "lab-split"),
        (["pretrain", "--dataset", "imagenet21k"], "embedded"),
        (["pretrain", "--encoder", "vgg"], "alexnet-half"),
        (["pretrain", "--preset", "nope"], "demo"),
        (["pretrain", "--views", "lab-split", "--knob", "crop-scale=7"], "valid range"),
        (["pretrain", "--views", "lab-split", "--knob", "sigma=1"], "its knobs: crop-scale"),
        (["pretrain", "--dataset", "stl10"], "--data-root"),
        (["pretrain", "--optimizer", "lion"], "sgd or adam"),
        (["pretrain", "--objective", "byol"], "memory-bank"),
        (["pretrain", "--objective", "moco", "--queue", "1000"], "multiple of --batch-size 128"),
        (["pretrain", "--objective", "moco", "--key-momentum", "1.5"], "--key-momentum"),
        (["pretrain", "--objective", "memory-bank", "--bank-loss", "hinge"], "softmax, nce"),
        (["pretrain", "--objective", "memory-bank", "--views", "infomin-aug", "--knob", "level=infomin+jigsaw"],
         "no JigSaw branch"),
        (["pretrain", "--log", "wandb"], "tensorboard"),
        (["pretrain", "--objective", "memory-bank", "--bank-negatives", "0"], "--bank-negatives 0"),
        (["pretrain", "--jigsaw-beta", "2"], "--jigsaw-beta"),
        (["pretrain", "--workers", "-1"], "--workers -1"),
        (["pretrain", "--stream"], "cannot be streamed; --stream works for div2k"),
        (["pretrain", "--dataset", "imagenet", "--stream"], "--data-root"),
    ],
)
def test_bad_pretrain_input_is_one_line_exit_2(tmp_path, capsys, args, listed):
    code, err = run_main(capsys, *args, "--out", tmp_path / "run")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and listed in lines[0], err
    assert not (tmp_path / "run").exists()


def test_probe_of_a_missing_run_is_one_line(tmp_path, capsys):
    code, err = run_main(capsys, "probe", tmp_path / "nope")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a run folder" in err


def test_the_installed_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "infomin_cli", "pretrain", "--views", "nope", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: unknown view 'nope'; choose one of:")


def test_more_held_out_negatives_than_held_out_images_fails_before_training(tmp_path, capsys):
    code, err = run_main(capsys, "sweep", "crop-scale", "0.5,1.0", "--dataset", "tiny", "--views", "lab-split",
                         "--negatives", "100", "--batch-size", "32", "--runs-dir", tmp_path / "runs",
                         "--out", tmp_path / "sweep.csv", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "more than the 64 held-out images" in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "sweep.csv").exists()


@pytest.mark.parametrize(("args", "listed"), [
    (["--task", "bogus"], "choose one of: classification, factors, linear-protocol, segmentation"),
    (["--task", "segmentation", "--classes", "7"], "40 or 13"),
])
def test_bad_probe_task_or_class_set_is_one_line(tmp_path, capsys, args, listed):
    code, err = run_main(capsys, "probe", tmp_path / "nope", *args, "--results", tmp_path / "r.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1 and listed in err, err
    assert not (tmp_path / "r.csv").exists()


def test_a_sweep_with_a_bad_queue_is_one_line_before_training(tmp_path, capsys):
    code, err = run_main(capsys, "sweep", "crop-scale", "0.5,1", "--objective", "moco", "--queue", "100",
                         "--out", tmp_path / "s.csv", "--runs-dir", tmp_path / "runs", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "multiple of --batch-size" in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(("args", "listed"), [
    (["--launcher", "lsf"], "local, slurm, submitit-local"),
    (["--gpus-per-point", "0"], "--gpus-per-point 0"),
    (["--gpus-per-point", "2"], "needs --launcher slurm"),
    (["--slurm-partition", "gpu"], "--slurm-partition needs --launcher slurm"),
    (["--launcher", "submitit-local", "--slurm-time", "soon"], "not a time"),
    (["--launcher", "submitit-local", "--slurm-time", "0"], "at least one minute"),
    (["--launcher", "submitit-local", "--slurm-option", "constraint"], "KEY=VALUE"),
    (["--launcher", "submitit-local", "--slurm-account", "my account"], "not a SLURM name"),
    (["--launcher", "slurm"], "no srun on PATH"),
])
def test_bad_launcher_options_are_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch, args, listed):
    monkeypatch.setenv("PATH", str(tmp_path))  # no SLURM here
    code, err = run_main(capsys, "sweep", "crop-scale", "0.5,1", "--dataset", "tiny", *args,
                         "--out", tmp_path / "s.csv", "--runs-dir", tmp_path / "runs", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and listed in err, err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "s.csv").exists()


def test_a_half_set_torchrun_environment_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    code, err = run_main(capsys, "pretrain", "--dataset", "tiny", "--out", tmp_path / "run")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "launch with `torchrun" in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "listed"), [
    (["--format", "onnx"], "choose one of: detectron2, torchvision"),
    (["--format", "torchvision"], "not a run folder"),
])
def test_bad_export_input_is_one_line(tmp_path, capsys, args, listed):
    code, err = run_main(capsys, "export", tmp_path / "nope", *args, "--out", tmp_path / "r50.pth")
    assert code == 2 and len(err.strip().splitlines()) == 1 and listed in err, err
    assert not (tmp_path / "r50.pth").exists()


def test_exporting_a_non_resnet_run_or_into_a_folder_is_one_line(tmp_path, capsys):
    from tests.test_export import _run_folder

    _run_folder(tmp_path / "conv", encoder="convnet")
    for fmt, out, listed in (("detectron2", tmp_path / "r.pkl", "needs a ResNet run"),
                             ("torchvision", tmp_path, "is a folder")):
        code, err = run_main(capsys, "export", tmp_path / "conv", "--format", fmt, "--out", out)
        assert code == 2 and len(err.strip().splitlines()) == 1 and listed in err, err
    assert not (tmp_path / "r.pkl").exists()


@pytest.mark.parametrize(("args", "listed"), [
    (["--lr", "0"], "--lr 0.0"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--batch-size", "999"], "larger than the 8 training images"),
    (["--label", "font"], "has no label 'font'"),
    (["--layer", "fc9"], "has no layer 'fc9'"),
])
def test_bad_streamed_probe_input_is_one_line(tmp_path, capsys, args, listed):
    from tests.test_linear_protocol import _streamed_run

    folder = _streamed_run(tmp_path)
    code, err = run_main(capsys, "probe", folder, *args, "--results", tmp_path / "r.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1 and listed in err, err
    assert not (tmp_path / "r.csv").exists() and not list(folder.glob("linear-*"))


@pytest.mark.parametrize(("args", "listed"), [
    (["learn-views", "--from", "cmyk"], "choose one of: rgb"),
    (["learn-views", "--flow", "glow"], "--flow 'glow' is not valid; choose one of: nvp, vp"),
    (["learn-views", "--mode", "weak"], "unsupervised, semi-supervised, supervised"),
    (["learn-views", "--labelled", "0"], "--labelled 0.0"),
    (["learn-views", "--labelled", "1.5"], "--labelled 1.5"),
    (["learn-views", "--generator-lr", "-1"], "--generator-lr -1"),
    (["learn-views", "--blocks", "0"], "--blocks 0"),
    (["learn-views", "--save-every", "0"], "--save-every 0"),
    (["learn-views", "--scale", "huge"], "embedded or paper"),
    (["pretrain", "--objective", "learn-views"], "trained by `infomin learn-views`"),
    (["pretrain", "--views", "learned"], "learned views need --knob generator=..."),
    (["pretrain", "--views", "learned", "--knob", "generator=/nonexistent/x"], "is not a view learner"),
    (["pretrain", "--views", "learned", "--knob", "generator=a@b"], "must be an epoch number"),
    (["views", "show", "learned", "--knob", "generator=/nonexistent/x"], "is not a view learner"),
])
def test_bad_learned_views_input_is_one_line_exit_2(tmp_path, capsys, args, listed):
    code, err = run_main(capsys, *args, "--out", tmp_path / "run")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and listed in lines[0], err
    assert not (tmp_path / "run").exists()


def test_a_sweep_over_a_folder_that_is_not_a_view_learner_is_one_line(tmp_path, capsys):
    from infomin_cli.config import RunConfig

    (tmp_path / "run").mkdir()
    RunConfig(objective="infonce").save(tmp_path / "run" / "config.yaml")  # a contrastive run's folder
    code, err = run_main(capsys, "sweep", "generator", f"{tmp_path / 'run'}@0", "--preset", "learned-views",
                         "--runs-dir", tmp_path / "runs", "--out", tmp_path / "r.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is not a view learner" in err
    assert not (tmp_path / "runs").exists()


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("args", "where", "advice", "never"),
    [
        # pretrain keeps the last finished epoch and continues with --resume
        (["pretrain", "--dataset", "tiny", "--views", "lab-split", "--epochs", "1"], "infomin_cli.pipeline.train_run",
         "rerun with --resume", "rerun the same command"),
        # sweep has no --resume: its points are found again by rerunning the command
        (["sweep", "crop-scale", "0.5", "--dataset", "tiny", "--views", "lab-split", "--epochs", "1", "--batch-size", "32",
          "--quiet"],
         "infomin_cli.sweep.runner.run_sweep", "rerun the same command", "--resume"),
        # an estimate keeps nothing: no advice beyond the fact
        (["mi-estimate", "--source", "gaussian"], "infomin_cli.estimation.synthetic_rows", "interrupted", "--resume"),
    ],
)
def test_ctrl_c_names_the_commands_own_way_to_continue(tmp_path, capsys, monkeypatch, args, where, advice, never):
    module, name = where.rsplit(".", 1)
    monkeypatch.setattr(f"{module}.{name}", _interrupt)
    out = ["--out", tmp_path / ("r.csv" if args[0] == "sweep" else "run")] if args[0] != "mi-estimate" else []
    if args[0] == "sweep":
        out += ["--runs-dir", tmp_path / "runs"]
    code, err = run_main(capsys, *args, *out)
    assert code == 130 and advice in err and never not in err, err
