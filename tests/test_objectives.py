"""The method seam: every objective is a module whose state lives in its buffers (paper C.2-C.3, B.1-B.3)."""

import math

import pytest
import torch

from infomin_cli.engine.pretrain import build_objective, pretrain
from infomin_cli.errors import InfominError
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.moco import MoCo
from infomin_cli.runs import build, validate

OBJECTIVE_CONFIGS = {
    "infonce": {},
    "moco": {"objective": "moco", "queue": 64},
    "memory-bank": {"objective": "memory-bank", "bank_negatives": 50},
    "memory-bank-nce": {"objective": "memory-bank", "bank_negatives": 50, "bank_loss": "nce"},
}


def _setup(config):
    config = validate(config)
    built = build(config)
    n = len(built.dataset.pretrain)
    objective = build_objective(config, built, n)
    return config, built, objective


def _steps(config, built, objective, n_steps):
    images = built.dataset.pretrain.images
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(objective.param_groups(built.model)[0]["params"], lr=1e-3)
    outs = []
    for step in range(n_steps):
        index = torch.arange(step * config.batch_size, (step + 1) * config.batch_size) % len(images)
        out = objective(built.model, images[index], built.views, generator, index)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        objective.after_step(built.model)
        outs.append(out)
    return outs


@pytest.mark.parametrize("name", list(OBJECTIVE_CONFIGS))
def test_i_nce_never_exceeds_log_k_for_any_objective(tiny_config, name):
    config, built, objective = _setup(tiny_config.merged(OBJECTIVE_CONFIGS[name]))
    for out in _steps(config, built, objective, 4):
        assert out.k == objective.train_k()
        assert float(out.i_nce) <= math.log(out.k) + 1e-6


def test_k_is_the_batch_the_queue_plus_one_or_the_bank_negatives_plus_one(tiny_config):
    ks = {name: _setup(tiny_config.merged(extra))[2].train_k() for name, extra in OBJECTIVE_CONFIGS.items()}
    assert ks == {"infonce": 32, "moco": 65, "memory-bank": 51, "memory-bank-nce": 51}


@pytest.mark.parametrize("name", ["infonce", "moco", "memory-bank"])
def test_resume_after_a_crash_is_bit_identical(tmp_path, tiny_config, crash_after_first_epoch, name):
    config = tiny_config.merged({**OBJECTIVE_CONFIGS[name], "epochs": 3})
    pretrain(config, tmp_path / "straight", progress=False)
    with crash_after_first_epoch():
        pretrain(config, tmp_path / "crashed", progress=False)
    pretrain(config, tmp_path / "crashed", resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=True)
    for part in ("model", "objective"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0, equal_nan=True, msg=f"{part} {key}")
    if name == "moco":
        assert {"queue", "queue_ptr"} <= set(a["objective"]) and any(k.startswith("key_model.") for k in a["objective"])
    if name == "memory-bank":
        assert {"bank1", "bank2"} <= set(a["objective"])


def test_moco_keys_come_back_in_batch_order_after_the_bn_shuffle(tiny_config):
    config, built, moco = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["moco"]))
    moco.key_model.eval()  # running statistics: grouping cannot change a key, only the order could
    v1, v2 = built.views(built.dataset.pretrain.images[:32], torch.Generator().manual_seed(0))
    keys = moco.encode_keys(v2, 1, torch.Generator().manual_seed(1))
    assert torch.allclose(keys, moco.key_model.embed(v2, 1), atol=1e-6)


def test_moco_key_encoder_follows_the_query_encoder_by_momentum(tiny_config):
    config, built, moco = _setup(tiny_config.merged({**OBJECTIVE_CONFIGS["moco"], "key_momentum": 0.9}))
    with torch.no_grad():
        for p in built.model.parameters():
            p.add_(1.0)
    before = [p.clone() for p in moco.key_model.parameters()]
    moco._keys = [torch.nn.functional.normalize(torch.randn(32, config.feat_dim), dim=1)] * 2
    moco._index = torch.arange(32)
    moco.after_step(built.model)
    for old, new, online in zip(before, moco.key_model.parameters(), built.model.parameters(), strict=True):
        assert torch.allclose(new, 0.9 * old + 0.1 * online, atol=1e-6)


def test_moco_enqueues_the_keys_at_the_pointer_and_wraps(tiny_config):
    config, built, moco = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["moco"]))
    for step in range(3):  # queue 64 = two batches of 32: the third wraps to the start
        keys = [torch.nn.functional.normalize(torch.randn(32, config.feat_dim), dim=1) for _ in range(2)]
        moco._keys, moco._index = keys, torch.arange(32) + 100 * step
        moco.after_step(built.model)
        start = (step * 32) % 64
        for d in range(2):  # lab-split: each view's keys in its own queue
            assert torch.equal(moco.queue[d, start : start + 32], keys[d])
            assert torch.equal(moco.queue_index[d, start : start + 32], torch.arange(32) + 100 * step)
    assert int(moco.queue_ptr) == 32


def test_the_moco_queue_is_stored_l2_normalised(tiny_config):
    _, _, moco = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["moco"]))
    assert torch.allclose(moco.queue.norm(dim=-1), torch.ones(moco.queue.shape[:2]), atol=1e-5)


def test_moco_trains_both_encoders_of_a_split_view_and_one_queue_for_a_shared_encoder(tiny_config):
    config, built, moco = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["moco"]))
    assert moco.directions == ((0, 1), (1, 0)) and moco.queue.shape[0] == 2
    out = _steps(config, built, moco, 1)[0]
    assert torch.isfinite(out.loss)
    for encoder in built.model.encoders:  # each encoder queried the other view's keys
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters() if p.ndim > 1)
    shared = tiny_config.merged({"views": "infomin-aug", **OBJECTIVE_CONFIGS["moco"]})
    assert _setup(shared)[2].directions == ((0, 1),)


def test_symmetric_moco_queries_with_both_views_each_against_its_own_queue(tiny_config):
    shared = {"views": "infomin-aug", **OBJECTIVE_CONFIGS["moco"]}
    config, built, moco = _setup(tiny_config.merged({**shared, "symmetric": True}))
    assert moco.directions == ((0, 1), (1, 0)) and moco.queue.shape[0] == 2
    images, index, model = built.dataset.pretrain.images[:32], torch.arange(32), built.model
    loss = moco(model, images, built.views, torch.Generator().manual_seed(0), index).loss
    generator = torch.Generator().manual_seed(0)  # the same draws, in the order forward makes them
    v1, v2 = built.views(images, generator)
    q1, k2 = model.embed(v1, 0), moco.encode_keys(v2, 1, generator)
    q2, k1 = model.embed(v2, 1), moco.encode_keys(v1, 0, generator)
    expected = 0.5 * (moco.contrast(q1, k2, 0, index) + moco.contrast(q2, k1, 1, index))
    torch.testing.assert_close(loss, expected)
    moco.after_step(model)  # direction 0 queues the second view's keys, direction 1 the first's
    torch.testing.assert_close(moco.queue[:, :32], torch.stack([k2, k1]))
    assert _setup(tiny_config.merged(shared))[2].directions == ((0, 1),)  # MoCo as published by default


def test_a_samples_own_earlier_key_is_never_its_negative(tiny_config):
    config, built, moco = _setup(tiny_config.merged({"views": "infomin-aug", **OBJECTIVE_CONFIGS["moco"]}))
    q = torch.nn.functional.normalize(torch.randn(4, config.feat_dim), dim=1)
    moco.queue[0, :4] = q  # the queue holds each query's own vector, as its earlier key
    moco.queue_index[0, :4] = torch.tensor([10, 11, 12, 13])
    mine = moco.contrast(q, q, 0, torch.tensor([10, 11, 12, 13]))
    theirs = moco.contrast(q, q, 0, torch.tensor([20, 21, 22, 23]))  # other samples: the copies are negatives
    assert mine < theirs - 0.5


def test_the_memory_bank_positive_comes_from_memory(tiny_config):
    config, built, bank = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["memory-bank"]))
    index = torch.arange(32)
    z1 = torch.nn.functional.normalize(torch.randn(32, config.feat_dim), dim=1)
    idx = bank.candidates(index, torch.Generator().manual_seed(0))
    assert torch.equal(idx[:, 0], index) and idx.shape == (32, 51)
    scores = bank.scores(z1, bank.bank2, idx)
    assert torch.allclose(scores[:, 0], (z1 * bank.bank2[index]).sum(1), atol=1e-6)  # memory, not this batch's z2


def test_the_memory_bank_moves_each_entry_halfway_to_the_new_embedding(tiny_config):
    config, _, bank = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["memory-bank"]))
    index = torch.tensor([3, 7])
    old1, z = bank.bank1[index].clone(), torch.nn.functional.normalize(torch.randn(2, config.feat_dim), dim=1)
    bank._pending = (index, z, z)
    bank.after_step(None)
    assert torch.allclose(bank.bank1[index], torch.nn.functional.normalize(0.5 * old1 + 0.5 * z, dim=1), atol=1e-6)


def test_scores_are_the_same_whether_gathered_before_or_after_the_product(tiny_config):
    config, _, bank = _setup(tiny_config.merged(OBJECTIVE_CONFIGS["memory-bank"]))
    z = torch.nn.functional.normalize(torch.randn(8, config.feat_dim), dim=1)
    idx = bank.candidates(torch.arange(8), torch.Generator().manual_seed(0))
    full = (z @ bank.bank2.T).gather(1, idx)
    rows = torch.bmm(bank.bank2[idx], z.unsqueeze(2)).squeeze(2)
    assert torch.allclose(full, rows, atol=1e-6) and torch.allclose(bank.scores(z, bank.bank2, idx), full, atol=1e-6)


def test_jigsaw_with_beta_zero_is_plain_moco(tiny_config):
    base = tiny_config.merged({"views": "infomin-aug", "knobs": {"level": "infomin"}, **OBJECTIVE_CONFIGS["moco"]})
    plain_config, built, plain = _setup(base)
    jig_config = validate(base.merged({"knobs": {"level": "infomin+jigsaw"}, "jigsaw_beta": 0.0}))
    jig_views = build(jig_config).views
    jig = MoCo(built.model, jig_views, jig_config, len(built.dataset.pretrain))
    jig.key_model.load_state_dict(plain.key_model.state_dict())
    jig.queue.copy_(plain.queue)
    images, index = built.dataset.pretrain.images[:32], torch.arange(32)
    a = plain(built.model, images, built.views, torch.Generator().manual_seed(5), index)
    b = jig(built.model, images, jig_views, torch.Generator().manual_seed(5), index)
    assert torch.equal(a.loss, b.loss)
    plain.after_step(built.model)
    jig.after_step(built.model)
    assert torch.equal(plain.queue, jig.queue)  # jigsaw queries are never enqueued


def test_jigsaw_branch_adds_its_heads_to_the_trained_parameters(tiny_config):
    config = tiny_config.merged({"views": "infomin-aug", "knobs": {"level": "infomin+jigsaw"}, **OBJECTIVE_CONFIGS["moco"]})
    _, built, moco = _setup(config)
    trained = {id(p) for g in moco.param_groups(built.model) for p in g["params"]}
    assert all(id(p) in trained for p in moco.jigsaw.parameters())
    assert not any(id(p) in trained for p in moco.key_model.parameters())
    out = _steps(validate(config), built, moco, 1)[0]
    assert torch.isfinite(out.loss)


def test_a_queue_that_is_not_a_multiple_of_the_batch_is_refused(tmp_path, tiny_config):
    with pytest.raises(InfominError, match="multiple of --batch-size 32"):
        pretrain(tiny_config.merged({"objective": "moco", "queue": 100}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_memory_bank_refuses_the_jigsaw_level(tmp_path, tiny_config):
    config = tiny_config.merged({"objective": "memory-bank", "views": "infomin-aug", "knobs": {"level": "infomin+jigsaw"}})
    with pytest.raises(InfominError, match="no JigSaw branch"):
        validate(config)


def test_every_objective_declares_its_options_and_paper():
    from infomin_cli.options import Option

    for name, cls in OBJECTIVES.items():
        assert cls.summary and cls.paper, name
        for option in cls.options:
            assert isinstance(option, Option) and option.help and option.check(option.default) == option.default, option


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import conftest  # registers the tiny dataset
from infomin_cli.config import RunConfig
from infomin_cli.engine.pretrain import pretrain
pretrain(RunConfig.from_dict({config!r}), {out!r}, progress=False)
"""


@pytest.mark.slow
def test_queue_pointer_and_contents_survive_kill_minus_9(tmp_path, tiny_config):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    config = tiny_config.merged({**OBJECTIVE_CONFIGS["moco"], "epochs": 25, "knn_monitor": False})
    out = tmp_path / "killed"
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), config=config.to_dict(), out=str(out))
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    state = torch.load(out / "checkpoint.pt", weights_only=True)  # atomic: never torn
    epoch = state["epoch"]
    assert 1 <= epoch < 25, "the child finished before it was killed; raise its epochs"
    assert int(state["objective"]["queue_ptr"]) == (epoch * 3 * 32) % 64  # 3 steps of 32 per epoch, queue 64
    pretrain(config, out, resume=True, progress=False)
    pretrain(config, tmp_path / "straight", progress=False)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["objective"]
    b = torch.load(out / "checkpoint.pt", weights_only=True)["objective"]
    for key in ("queue", "queue_ptr"):
        assert torch.equal(a[key], b[key]), key
