"""--precision: bf16 autocast or fp32, `auto` resolved once per device; views always in fp32.

bf16 autocast runs on the CPU too, so these tests run on the CPU the code that CUDA's default
(`auto` = bf16) runs: every objective x {split views, infomin, infomin+jigsaw} through the trainer,
the view learner, a probe and the held-out estimates, each seen to compute its convolutions in
bf16 (a forward hook on every Conv2d), and each with a finite loss.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.config import RunConfig
from infomin_cli.engine.pretrain import build_objective, pretrain
from infomin_cli.errors import InfominError
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.base import make_views
from infomin_cli.run_files import read_config
from infomin_cli.runs import build, config_hash, load_run, validate
from infomin_cli.runtime.precision import BF16, FP32, check_precision, resolve
from infomin_cli.views import VIEWS
from infomin_cli.views.infomin_aug import LEVELS

runner = CliRunner()
CPU = torch.device("cpu")

# the view settings of the matrix: a split family (two encoders), InfoMin Aug., and its JigSaw rung
VIEW_SETTINGS = {
    "lab-split": {"views": "lab-split"},
    "infomin": {"views": "infomin-aug", "knobs": {"level": "infomin"}, "image_size": 16},
    "infomin+jigsaw": {"views": "infomin-aug", "knobs": {"level": "infomin+jigsaw"}, "image_size": 16},
}
# small enough for 96 tiny images in batches of 32
SMALL = {"methods": {"moco": {"queue": 64}, "memory-bank": {"bank_negatives": 64}}}  # small enough for the tiny set


@contextlib.contextmanager
def conv_dtypes():
    """Every Conv2d module's output dtype while the block runs (views use no modules, so these are
    the encoders', JigSaw's tiles included)."""
    seen: list[torch.dtype] = []

    def hook(module, args, output):
        if isinstance(module, nn.Conv2d):
            seen.append(output.dtype)

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def config_for(objective: str, setting: str, **extra) -> RunConfig:
    return RunConfig(dataset="tiny", encoder="convnet", batch_size=32, epochs=1, seed=0, objective=objective
                     ).merged({**SMALL, **VIEW_SETTINGS[setting], **extra})


# --- the fault: C.3's recipe inside a bf16 autocast region --------------------------------------

@pytest.mark.parametrize("objective", ["infonce", "moco"])
def test_jigsaw_recipe_steps_inside_a_bf16_autocast_region(objective):
    """Issue 21, fault 1: the blur's index-put met a bf16 source when JigSaw's tiles were cut inside
    autocast. The whole step runs inside a CPU bf16 region here, as CUDA's step did."""
    config = validate(config_for(objective, "infomin+jigsaw"))
    built = build(config)
    module = build_objective(config, built, 96)
    images, generator = built.dataset.pretrain.images[:32], torch.Generator().manual_seed(0)
    with conv_dtypes() as seen, torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(built.model, images, built.views, generator, torch.arange(32))
    assert torch.isfinite(out.loss) and set(seen) == {torch.bfloat16}


# --- views are data: fp32 whatever region encloses them ------------------------------------------

def _family_input(name: str) -> tuple[dict, torch.Tensor, int]:
    """Knobs, a uint8 batch of the family's kind of data, and the view size."""
    g = torch.Generator().manual_seed(0)
    family = VIEWS.get(name)
    if family.data_kind == "sequences":
        from infomin_cli.data.moving_mnist import K_FRAMES

        return {}, torch.randint(0, 256, (4, K_FRAMES + 4, 3, 16, 16), dtype=torch.uint8, generator=g), 16
    if family.data_kind == "highres":
        return {"distance": 32}, torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8, generator=g), 16
    return {}, torch.randint(0, 256, (6, 3, 24, 24), dtype=torch.uint8, generator=g), 16


def _pair(name: str, knobs: dict, size: int, tmp_path: Path):
    if name == "learned":  # a generator folder would need a learn-views run: its spec is built directly
        from infomin_cli.views.flow import FlowGenerator
        from infomin_cli.views.learned import GeneratorSpec, LearnedViews

        torch.manual_seed(0)
        flow = FlowGenerator("vp", 2)
        for p in flow.parameters():
            nn.init.normal_(p, 0, 0.3)
        return LearnedViews(GeneratorSpec(str(tmp_path), "vp", 2, "rgb", flow.state_dict()), size, 0.2)
    return VIEWS.get(name).make(knobs, size)


def _settings():
    """Every family, and every value of a choice knob (InfoMin Aug.'s rungs, the colour spaces)."""
    for name in VIEWS.names():
        choice = next((k for k in VIEWS.get(name).knobs if k.kind == "choice"), None)
        for value in choice.choices if choice else [None]:
            yield pytest.param(name, {choice.name: value} if choice else {}, id=f"{name}-{value}" if choice else name)


def _outputs(pair, images: torch.Tensor, views=make_views) -> list[torch.Tensor]:
    out = list(views(pair, images, torch.Generator().manual_seed(0))) + list(pair.probe_inputs(images))
    if getattr(pair, "has_jigsaw", False):
        out.append(pair.jigsaw_tiles(images, torch.Generator().manual_seed(0)))
    return out


@pytest.mark.parametrize(("name", "choice"), list(_settings()))
def test_every_view_family_gives_the_same_fp32_views_inside_a_bf16_region(name, choice, tmp_path):
    """The objectives' `make_views` switches autocast off: the views of a bf16 step are the fp32
    views, bit for bit, for every family (colour conversions and crops are matmuls that autocast
    would otherwise run in bf16)."""
    knobs, images, size = _family_input(name)
    pair = _pair(name, {**knobs, **choice}, size, tmp_path)
    reference = _outputs(pair, images)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        views = list(make_views(pair, images, torch.Generator().manual_seed(0)))
    assert all(v.dtype == torch.float32 for v in views)
    assert all(torch.equal(a, b) for a, b in zip(views, reference[:2], strict=True))


@pytest.mark.parametrize(("name", "choice"), list(_settings()))
def test_every_view_family_runs_when_called_inside_a_bf16_region(name, choice, tmp_path):
    """The view code itself survives autocast (no index-put of a bf16 result into fp32 rows)."""
    knobs, images, size = _family_input(name)
    pair = _pair(name, {**knobs, **choice}, size, tmp_path)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _outputs(pair, images, views=lambda p, x, g: p(x, g))
    assert all(t.is_floating_point() and bool(torch.isfinite(t.float()).all()) for t in out)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64])
def test_infomin_aug_steps_keep_the_dtype_they_are_given(level, dtype):
    pair = VIEWS.get("infomin-aug").make({"level": level}, 16)
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)).to(dtype)
    assert pair.photometric(x, torch.Generator().manual_seed(0)).dtype == dtype


# --- the option: names, resolution, the config -----------------------------------------------------

def test_auto_is_bf16_on_cuda_and_fp32_on_every_other_device():
    assert resolve("auto", torch.device("cuda")) is BF16
    assert resolve("auto", CPU) is FP32 and resolve("auto", torch.device("mps")) is FP32
    assert resolve("bf16", CPU) is BF16 and resolve("fp32", torch.device("cuda")) is FP32


def test_lightnings_spellings_name_the_same_two_precisions():
    assert check_precision("bf16-mixed") == "bf16" and check_precision("32-true") == "fp32"


@pytest.mark.parametrize("bad", ["fp8", "", "16-mixed", "BF16"])
def test_any_other_name_is_one_line_naming_the_choices(bad):
    with pytest.raises(InfominError, match="--precision .* choose one of: auto, bf16, fp32") as caught:
        check_precision(bad)
    assert "\n" not in str(caught.value)


def test_precision_is_not_hashed_but_is_saved_and_old_configs_load_as_auto(tmp_path):
    configs = [validate(RunConfig(dataset="tiny", precision=p)) for p in ("auto", "bf16", "bf16-mixed", "fp32")]
    assert len({config_hash(c) for c in configs}) == 1
    assert configs[2].precision == "bf16"
    configs[1].save(tmp_path / "config.yaml")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["precision"] == "bf16"
    old = {k: v for k, v in configs[1].to_dict().items() if k != "precision"}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    assert read_config(tmp_path / "old.yaml").precision == "auto"


# --- the matrix: every objective x views at --precision bf16, through the trainer ----------------

def _cells():
    for name, objective in OBJECTIVES.items():
        if objective.command:  # trained by its own command (learn-views: below)
            continue
        for setting in VIEW_SETTINGS:
            if setting.endswith("jigsaw") and not objective.supports_jigsaw:
                continue
            yield pytest.param(name, setting, id=f"{name}-{setting}")


@pytest.mark.parametrize(("objective", "setting"), list(_cells()))
def test_one_bf16_step_of_every_objective_and_view_setting_through_the_trainer(objective, setting, tmp_path):
    """`pretrain --precision bf16` on the CPU: the encoders (and JigSaw's tiles, and the k-NN
    monitor after the epoch) run in bf16, the loss is finite, summary.json says bf16."""
    config = validate(config_for(objective, setting, precision="bf16", limit=32))
    with conv_dtypes() as seen:
        summary = pretrain(config, tmp_path / "run", progress=False)
    assert seen and set(seen) == {torch.bfloat16}
    assert torch.isfinite(torch.tensor(summary["loss"])) and summary["precision"] == "bf16"


def test_a_cpu_run_at_auto_is_bit_identical_to_one_at_fp32(tmp_path):
    """`auto` is fp32 on the CPU, so every existing CPU run, the demo's included, is unchanged."""
    states, summaries = [], []
    for precision in ("auto", "fp32"):
        config = validate(config_for("moco", "infomin+jigsaw", precision=precision, limit=64))
        with conv_dtypes() as seen:
            summaries.append(pretrain(config, tmp_path / precision, progress=False))
        assert set(seen) == {torch.float32}
        states.append(torch.load(tmp_path / precision / "checkpoint.pt", weights_only=True))
    assert summaries[0]["loss"] == summaries[1]["loss"] and summaries[0]["precision"] == "fp32"
    for key in ("model", "objective"):
        a, b = states[0][key], states[1][key]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Recording:
    """A run's views, remembering what they hand out and whether autocast was on at the time."""

    def __init__(self, views) -> None:
        self.views, self.seen = views, []
        self.channels, self.shared_encoder, self.has_jigsaw = views.channels, views.shared_encoder, True

    def __call__(self, images, generator):
        return self._record(self.views(images, generator))

    def jigsaw_tiles(self, images, generator):
        return self._record((self.views.jigsaw_tiles(images, generator),))[0]

    def _record(self, out):
        self.seen.append((torch.is_autocast_enabled("cpu"), out))
        return out


def test_bf16_and_fp32_runs_start_from_the_same_views():
    """Only the model's arithmetic changes with the precision: the first step's views and tiles are
    equal, and were computed outside the model's autocast region."""
    firsts = []
    for precision in ("bf16", "fp32"):
        config = validate(config_for("infonce", "infomin+jigsaw", precision=precision))
        built = build(config)
        module = build_objective(config, built, 96)
        views = Recording(built.views)
        module(built.model, built.dataset.pretrain.images[:32], views, torch.Generator().manual_seed(0),
               torch.arange(32))
        assert len(views.seen) == 2 and not any(on for on, _ in views.seen)
        firsts.append([t for _, out in views.seen for t in out])
    assert all(torch.equal(a, b) for a, b in zip(*firsts, strict=True))


# --- the commands: learn-views, probe, mi-estimate, sweep -------------------------------------------

def test_learn_views_trains_a_step_at_bf16(tmp_path):
    with conv_dtypes() as seen:
        out = invoke("learn-views", "--dataset", "tiny", "--precision", "bf16", "--epochs", 1, "--batch-size", 32,
                     "--limit", 32, "--out", tmp_path / "g", "--quiet", "--json")
    assert set(seen) == {torch.bfloat16}
    assert torch.isfinite(torch.tensor(json.loads(out.strip().splitlines()[-1])["loss"]))
    assert json.loads((tmp_path / "g" / "summary.json").read_text())["precision"] == "bf16"


@pytest.fixture(scope="module")
def fp32_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fp32") / "run"
    pretrain(validate(config_for("infonce", "lab-split", limit=64, knn_monitor=False)), folder, progress=False)
    return folder


def test_a_probe_runs_the_encoder_at_bf16_when_asked(fp32_run, tmp_path):
    with conv_dtypes() as seen:
        invoke("probe", fp32_run, "--precision", "bf16", "--epochs", 2, "--results", tmp_path / "r.csv")
    assert set(seen) == {torch.bfloat16}
    from infomin_cli.results import read_results

    assert 0 <= float(read_results(tmp_path / "r.csv")["metric_value"].iloc[0]) <= 100


def test_a_probe_takes_the_runs_own_precision_unless_told(fp32_run, tmp_path):
    assert load_run(fp32_run, "cpu").precision is FP32
    assert load_run(fp32_run, "cpu", precision="bf16").precision is BF16
    config = read_config(fp32_run / "config.yaml")
    config.precision = "bf16"
    config.save(fp32_run / "config.yaml")
    try:
        assert load_run(fp32_run, "cpu").precision is BF16
    finally:
        config.precision = "auto"
        config.save(fp32_run / "config.yaml")


def test_held_out_estimates_run_at_bf16_when_asked(fp32_run):
    with conv_dtypes() as seen:
        out = invoke("mi-estimate", fp32_run, "--precision", "bf16", "--eval-batches", 2, "--json")
    assert set(seen) == {torch.bfloat16} and torch.isfinite(torch.tensor(json.loads(out)[0]["value"]))


def test_a_sweep_trains_probes_and_estimates_at_the_precision_it_is_given(tmp_path):
    with conv_dtypes() as seen:
        invoke("sweep", "crop-scale", "0.5", "--dataset", "tiny", "--views", "lab-split", "--batch-size", 32,
               "--epochs", 1, "--limit", 32, "--probe-epochs", 2, "--precision", "bf16", "--quiet",
               "--out", tmp_path / "s.csv", "--runs-dir", tmp_path / "runs")
    assert set(seen) == {torch.bfloat16}
    (summary,) = (tmp_path / "runs").rglob("summary.json")
    assert json.loads(summary.read_text())["precision"] == "bf16"
