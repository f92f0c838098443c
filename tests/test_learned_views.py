"""Learned views (paper B.5): the invertible generator, the two-player step, the run folder, the view family."""

from __future__ import annotations

import re

import pytest
import torch

from infomin_cli.config import RunConfig
from infomin_cli.engine.pretrain import build_objective, pretrain
from infomin_cli.errors import InfominError
from infomin_cli.objectives.infonce import info_nce
from infomin_cli.runs import Built, build, load_run, validate
from infomin_cli.views import VIEWS
from infomin_cli.views.flow import FlowGenerator, saved_epochs


def _random_flow(kind: str, blocks: int = 3, seed: int = 0, std: float = 0.5) -> FlowGenerator:
    """A generator with every weight drawn (a fresh one is the identity, which would prove little)."""
    torch.manual_seed(seed)
    flow = FlowGenerator(kind, blocks).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.normal_(0, std)
    return flow


@pytest.mark.parametrize("kind", ["vp", "nvp"])
def test_the_generator_is_exactly_invertible(kind):
    flow = _random_flow(kind)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    y = flow(x)
    assert not torch.allclose(y, x)
    assert torch.allclose(flow.inverse(y), x, atol=1e-10)


def test_float32_inversion_is_within_float_tolerance():
    flow = _random_flow("nvp", std=0.2).float()  # a trained-like g (outputs of order 1, not 50)
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(flow.inverse(flow(x)), x, atol=1e-4)


def test_vp_has_log_det_zero():
    flow = _random_flow("vp")
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    _, log_det = flow.transform(x)
    assert torch.equal(log_det, torch.zeros(2, dtype=torch.float64))
    jacobian = torch.autograd.functional.jacobian(lambda t: flow(t.view(1, 3, 2, 2)).flatten(), x[:1].flatten())
    assert torch.linalg.slogdet(jacobian).logabsdet.abs() < 1e-9


def test_nvp_log_det_equals_the_autograd_jacobians():
    flow = _random_flow("nvp")
    x = torch.randn(1, 3, 2, 2, dtype=torch.float64)
    _, log_det = flow.transform(x)
    jacobian = torch.autograd.functional.jacobian(lambda t: flow(t.view(1, 3, 2, 2)).flatten(), x.flatten())
    assert abs(log_det.item()) > 0.1
    assert torch.allclose(log_det, torch.linalg.slogdet(jacobian).logabsdet.view(1), atol=1e-9)


def test_blocks_take_the_first_second_and_third_channel_in_turn():
    flow = FlowGenerator("vp", 6)
    assert [b.first for b in flow.blocks] == [0, 1, 2, 0, 1, 2]


def test_an_untrained_generator_is_the_identity_so_epoch_0_is_the_raw_split():
    x = torch.randn(2, 3, 4, 4)
    for kind in ("vp", "nvp"):
        assert torch.allclose(FlowGenerator(kind)(x), x)


def test_nvp_scale_is_bounded():
    flow = _random_flow("nvp", blocks=1)
    with torch.no_grad():
        for p in flow.parameters():
            p.mul_(100)
    _, log_det = flow.transform(torch.randn(1, 3, 1, 1, dtype=torch.float64))
    assert log_det.abs().item() <= 2.0 * 3 + 1e-9  # |s| < SCALE_BOUND per channel, 3 channels per block


# ---- the two-player step ---------------------------------------------------------------------------

@pytest.fixture
def learner_config(tiny_config) -> RunConfig:
    return tiny_config.merged({"objective": "learn-views", "views": "colorspace-split", "knobs": {"space": "rgb"},
                               "lr": 6e-4, "view_mode": "unsupervised", "labelled": 0.5, "save_every": 1,
                               "knn_monitor": False, "epochs": 2})


def _bound(objective, model, images, views, seed: int) -> float:
    with torch.no_grad():
        return objective(model, images, views, torch.Generator().manual_seed(seed), None).i_nce.item()


def _setup(config: RunConfig, lr_g: float = 2e-4):
    config = validate(config.merged({"generator_lr": lr_g}))
    built: Built = build(config)
    objective = build_objective(config, built, 96)
    optimizers = objective.optimizers(built.model, config)
    images = built.dataset.pretrain.images[:32]
    return built, objective, optimizers, images


def _train_critic(objective, model, images, views, optimizer, steps: int, temperature: float) -> None:
    """Critic steps on fixed, detached views: only the I_NCE approximator moves."""
    with torch.no_grad():
        x = torch.cat(views(images, torch.Generator().manual_seed(1)), 1)
        v1, v2 = objective.flow(x).split([1, 2], dim=1)
    for _ in range(steps):
        z1, z2 = model(v1, v2)
        optimizer.zero_grad()
        info_nce(z1, z2, temperature).loss.backward()
        optimizer.step()


def test_the_critic_step_raises_the_bound_on_fixed_views(learner_config):
    built, objective, optimizers, images = _setup(learner_config)
    before = _bound(objective, built.model, images, built.views, seed=1)
    _train_critic(objective, built.model, images, built.views, optimizers["critic"], 5, learner_config.temperature)
    assert _bound(objective, built.model, images, built.views, seed=1) > before + 0.05


def test_the_generator_step_lowers_the_bound_against_a_fixed_critic(learner_config):
    built, objective, optimizers, images = _setup(learner_config, lr_g=1e-2)
    model, views = built.model, built.views
    _train_critic(objective, model, images, views, optimizers["critic"], 5, learner_config.temperature)
    before = _bound(objective, model, images, views, seed=1)
    for _ in range(5):  # the unsupervised generator step, the critic frozen
        out = objective(model, images, views, torch.Generator().manual_seed(1), None)
        optimizers["generator"].zero_grad()
        (-out.loss).backward(inputs=list(objective.flow.parameters()))
        optimizers["generator"].step()
    assert _bound(objective, model, images, views, seed=1) < before - 0.05


@pytest.mark.parametrize("mode, through_critic, classifier_sees_g", [
    ("unsupervised", True, False), ("semi-supervised", True, True), ("supervised", False, True)])
def test_the_step_updates_the_critic_first_then_the_generator(learner_config, mode, through_critic, classifier_sees_g):
    built, objective, optimizers, images = _setup(learner_config.merged({"view_mode": mode}))
    calls, seen = [], {}
    for name, opt in optimizers.items():
        opt.step = (lambda real=opt.step, name=name: calls.append(name) or real())
    built.model.register_forward_hook(lambda *_: calls.append("model"))
    objective.classifiers[0].register_forward_hook(lambda m, inp, _: seen.update(grad=inp[0].requires_grad))
    out = objective.step(built.model, images, built.views, torch.Generator().manual_seed(0), None, optimizers)
    # the critic on detached views first; g's step goes through the critic only when the bound counts
    assert calls == ["model", "critic", *(["model"] if through_critic else []), "generator"]
    assert out.k == 32 and torch.isfinite(out.loss)
    assert seen["grad"] == classifier_sees_g  # unsupervised: the classifiers only watch


# ---- the run folder --------------------------------------------------------------------------------

def test_learn_views_resumes_identically_and_keeps_the_trajectory(tmp_path, learner_config, crash_after_first_epoch):
    config = learner_config.merged({"view_mode": "semi-supervised"})
    pretrain(config, tmp_path / "straight", progress=False)
    with crash_after_first_epoch():
        pretrain(config, tmp_path / "crashed", progress=False)
    pretrain(config, tmp_path / "crashed", resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=True)
    assert set(a["optimizers"]) == {"critic", "generator"}
    for part in ("model", "objective"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), key
    assert saved_epochs(tmp_path / "straight") == [0, 1, 2]
    header, *rows = (tmp_path / "straight" / "metrics.csv").read_text().splitlines()
    assert header.endswith("acc_v1,acc_v2") and len(rows) == 2 and all(r.split(",")[-1] for r in rows)


@pytest.fixture
def learner(tmp_path, learner_config):
    pretrain(learner_config.merged({"epochs": 1}), tmp_path / "learner", progress=False)
    return tmp_path / "learner"


def test_the_learned_family_builds_views_from_a_learner_folder(learner):
    family = VIEWS.get("learned")
    assert family.knob("generator").parse(str(learner)) == f"{learner}@1"
    pair = family.make({"generator": f"{learner}@0"}, 16)
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    v1, v2 = pair(images, torch.Generator().manual_seed(0))
    raw1, raw2 = VIEWS.get("rgb-split").make({}, 16)(images, torch.Generator().manual_seed(0))
    assert torch.equal(v1, raw1) and torch.equal(v2, raw2)  # epoch 0: g is the identity, the R vs GB split
    assert [t.shape[1] for t in pair.probe_inputs(images)] == [1, 2]


@pytest.mark.parametrize("value, message", [
    ("{tmp}/nowhere", "is not a view learner (no config.yaml"),
    ("{run}", "is not a view learner (its objective is 'infonce')"),
    ("{learner}@7", "has no generator at epoch 7; saved epochs: 0, 1"),
    ("{learner}@x", "the part after @ must be an epoch number"),
])
def test_a_folder_that_is_not_a_view_learner_is_one_line(value, message, tmp_path, learner, tiny_config):
    run = tmp_path / "run"
    run.mkdir()
    tiny_config.save(run / "config.yaml")
    with pytest.raises(InfominError, match=re.escape(message)):
        VIEWS.get("learned").knob("generator").parse(value.format(tmp=tmp_path, run=run, learner=learner))


def test_probes_rebuild_learned_views_from_the_run_folder_alone(tmp_path, learner, tiny_config):
    import shutil

    config = tiny_config.merged({"views": "learned", "knobs": {"generator": str(learner)}, "epochs": 1,
                                 "knn_monitor": False})
    pretrain(validate(config), tmp_path / "contrastive", progress=False)
    shutil.rmtree(learner)
    run = load_run(tmp_path / "contrastive")
    assert run.views.spec.source.endswith("learner@1")
    assert run.views(run.dataset.test.images[:2], torch.Generator().manual_seed(0))[1].shape[1] == 2


def test_pretrain_refuses_the_view_learner_objective(learner_config, tmp_path):
    from infomin_cli.pipeline import train_run

    with pytest.raises(InfominError, match="trained by `infomin learn-views`"):
        train_run(learner_config, tmp_path / "x", progress=False)


def test_the_generator_takes_its_coupling_and_depth_from_the_learners_options(tmp_path, learner_config):
    """config.yaml keeps the method's options in its namespace (methods: learn-views: flow: nvp)."""
    folder = tmp_path / "nvp"
    pretrain(learner_config.merged({"epochs": 1, "flow": "nvp", "flow_blocks": 2}), folder, progress=False)
    pair = VIEWS.get("learned").make({"generator": str(folder)}, 16)
    assert (pair.spec.flow, pair.spec.blocks) == ("nvp", 2) and len(pair.flow.blocks) == 2


def _torch_save(path, obj):
    torch.save(obj, path)


@pytest.mark.parametrize(("damage", "named", "says"), [
    (lambda f: (f / "config.yaml").write_text("- a list\n- not a config\n"), "config.yaml", "a list, not a mapping"),
    (lambda f: (f / "config.yaml").write_bytes("views: caf\xe9\n".encode("latin-1")), "config.yaml", "not valid YAML"),
    (lambda f: _torch_save(f / "generators" / "epoch-0001.pt", {"epoch": 1}), "epoch-0001.pt", "no 'flow'"),
    (lambda f: (f / "generators" / "epoch-0001.pt").write_bytes(b"torn"), "epoch-0001.pt", "torch.load"),
    (lambda f: (f / "config.yaml").write_text((f / "config.yaml").read_text().replace("flow_blocks: 3", "flow_blocks: 4")),
     "epoch-0001.pt", "(vp, 4 blocks) does not fit"),
    (lambda f: (f / "config.yaml").write_text((f / "config.yaml").read_text().replace("flow: vp", "flow: glow")),
     "config.yaml", "coupling 'glow'"),
])
def test_a_damaged_learner_folder_is_one_line_naming_the_file(learner, damage, named, says):
    damage(learner)
    with pytest.raises(InfominError) as info:
        VIEWS.get("learned").make({"generator": str(learner)}, 16)
    message = str(info.value)
    assert "\n" not in message and f"{named} is damaged" in message and says in message, message
    assert "infomin learn-views --out" in message


def test_files_of_other_names_among_the_generators_are_left_alone(learner):
    (learner / "generators" / "epoch-abc.pt").write_bytes(b"a user's note")
    (learner / "generators" / "epoch-7.pt").write_bytes(b"not a name we write")
    assert saved_epochs(learner) == [0, 1]
    assert VIEWS.get("learned").knob("generator").parse(str(learner)) == f"{learner}@1"


@pytest.mark.parametrize(("damage", "says"), [
    (lambda saved: {k: v for k, v in saved.items() if k != "state"}, "no 'state'"),
    (lambda saved: {**saved, "blocks": 5}, "(vp, 5 blocks) does not fit"),
    (lambda saved: {**saved, "space": "cmyk"}, "colour space 'cmyk'"),
])
def test_a_damaged_generator_copy_in_a_run_is_one_line(tmp_path, learner, tiny_config, damage, says):
    config = tiny_config.merged({"views": "learned", "knobs": {"generator": str(learner)}, "epochs": 1,
                                 "knn_monitor": False})
    pretrain(validate(config), tmp_path / "run", progress=False)
    copy = tmp_path / "run" / "view-generator.pt"
    torch.save(damage(torch.load(copy, weights_only=True)), copy)
    with pytest.raises(InfominError) as info:
        load_run(tmp_path / "run")
    assert "view-generator.pt is damaged" in str(info.value) and says in str(info.value), str(info.value)
