"""Several processes (gloo on CPU): 2 ranks x batch B are one process x batch 2B, and a DDP run resumes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from infomin_cli.config import RunConfig
from infomin_cli.models.contrastive import ContrastiveModel
from infomin_cli.objectives import OBJECTIVES
from infomin_cli.objectives.base import Objective
from infomin_cli.runtime import distributed

B, SIDE = 6, 16


class FixedViews:
    """Deterministic views, so that both layouts see the very same inputs."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.float() / 255
        return x, x.flip(-1)


def model_without_bn() -> ContrastiveModel:
    """The ConvNet with its BN layers removed: per-rank BN statistics would differ from the whole
    batch's by design (torch's SyncBatchNorm, the other way, runs on GPUs only)."""
    torch.manual_seed(0)
    model = ContrastiveModel("convnet", "linear", (3, 3), True, 16)
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    return model


def images() -> torch.Tensor:
    return torch.randint(0, 256, (2 * B, 3, SIDE, SIDE), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)


def objective_for(model: nn.Module, name: str) -> Objective:
    config = RunConfig(temperature=0.2, batch_size=2 * B, objective=name)
    return OBJECTIVES.get(name)(model, FixedViews(), config, 2 * B)


def local_only_gather(x: torch.Tensor) -> torch.Tensor:
    """The ad-hoc gather many codebases copy: other ranks' rows without gradient, this rank's own.
    Its backward keeps only this rank's loss terms."""
    parts = [torch.empty_like(x) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(parts, x.detach().contiguous())
    parts[torch.distributed.get_rank()] = x
    return torch.cat(parts)


def one_rank(rank: int, world: int, port: int, out: str, name: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    device = distributed.setup("cpu")
    index = distributed.shard(torch.arange(2 * B))
    results = {}
    for how, gather in (("gather", distributed.gather_with_grad), ("local_only", local_only_gather)):
        distributed.gather_with_grad = gather  # this process only
        model = model_without_bn()
        objective = objective_for(model, name)
        step = distributed.wrap(objective, model, FixedViews(), torch.Generator(), device)
        result = step(images()[index], index)
        result.loss.backward()  # DDP averages the ranks' gradients
        results[how] = {"loss": float(distributed.mean(result.loss.detach())), "k": result.k,
                         "grads": {n: p.grad.clone() for n, p in model.named_parameters()}}
    torch.save(results, Path(out) / f"rank{rank}.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "k"), [("infonce", 2 * B), ("simclr", 4 * B - 1)])
def test_two_ranks_of_batch_b_give_the_loss_and_gradients_of_one_process_of_batch_2b(tmp_path, name, k):
    model = model_without_bn()
    reference = objective_for(model, name)(model, images(), FixedViews(), torch.Generator(), torch.arange(2 * B))
    reference.loss.backward()
    reference_loss = float(reference.loss.detach())
    expected = {n: p.grad for n, p in model.named_parameters()}

    torch.multiprocessing.spawn(one_rank, args=(2, free_port(), str(tmp_path), name), nprocs=2)

    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        right, wrong = got["gather"], got["local_only"]
        assert right["k"] == k == reference.k  # K over the global batch: world x batch (x 2 - 1 for NT-Xent)
        assert right["loss"] == pytest.approx(reference_loss, abs=1e-6)
        for name, grad in expected.items():
            # float tolerance per tensor: 1e-3 of its largest entry. The head's bias gradient is a sum of
            # cancelling terms; the one-process float32 value itself is 2e-4 of its scale off float64.
            scale = float(grad.abs().max())
            torch.testing.assert_close(right["grads"][name], grad, rtol=1e-5, atol=1e-3 * scale, msg=name)
            # the same step through a gather whose backward skips the all-reduce: the loss agrees, the gradients do not
            assert float((wrong["grads"][name] - grad).abs().max()) > 0.1 * scale, name
        assert wrong["loss"] == pytest.approx(reference_loss, abs=1e-6)


def test_one_process_gathers_nothing():
    x = torch.randn(4, 3, requires_grad=True)
    assert distributed.gather_with_grad(x) is x and distributed.gather(x) is x and distributed.ranks().world == 1
    assert torch.equal(distributed.shard(torch.arange(8)), torch.arange(8))


def test_each_rank_and_epoch_has_its_own_view_stream():
    seeds = {distributed.view_seed(0, rank, epoch) for rank in range(8) for epoch in range(100)}
    assert len(seeds) == 800 and distributed.view_seed(0, 1, 2) == distributed.view_seed(0, 1, 2)


DDP_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import conftest  # registers the tiny dataset
from infomin_cli.config import RunConfig
from infomin_cli.runtime import distributed
from infomin_cli.engine.pretrain import pretrain

config = RunConfig.from_dict({config!r})
pretrain(config, {straight!r}, progress=False)
real, calls = distributed.broadcast, []
def crash_at_second_epoch(tensor, src=0):  # every rank gets the epoch's order here, after rank 0's checkpoint
    if len(tensor) == 96:  # the order of the 96 tiny images (MoCo's key shuffle broadcasts 32)
        calls.append(1)
    if len(calls) == 2:
        raise KeyboardInterrupt
    return real(tensor, src)
distributed.broadcast = crash_at_second_epoch
try:
    pretrain(config, {crashed!r}, progress=False)
except KeyboardInterrupt:
    pass
distributed.broadcast = real
if distributed.ranks().main:
    import shutil
    shutil.copytree({crashed!r}, {copy!r})
pretrain(config, {crashed!r}, resume=True, progress=False)

import json
from infomin_cli.errors import InfominError
refused = []
for change in ({{"sync_bn": True}}, {{"batch_size": 33, "objective": "infonce"}}):  # every rank refuses, in one line, before writing
    try:
        pretrain(config.merged(change), {refused!r} + str(len(refused)), progress=False)
    except InfominError as exc:
        refused.append(str(exc))
if distributed.ranks().main:
    open({refused!r} + ".json", "w").write(json.dumps(refused))
pretrain(config.merged({{"objective": "memory-bank", "bank_negatives": 16, "epochs": 1}}), {bank!r}, progress=False)
"""


TINY = {"dataset": "tiny", "views": "lab-split", "encoder": "convnet", "batch_size": 32, "epochs": 2, "seed": 0,
        "objective": "moco", "queue": 64, "knn_monitor": False, "device": "cpu"}


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """One torchrun launch of 2 gloo processes on the tiny data (MoCo, queue 64, global batch 32):
    a straight run; a run stopped after epoch 1 (copied), then resumed; two refused configs; a
    memory-bank epoch."""
    from infomin_cli.config import RunConfig

    tmp_path = tmp_path_factory.mktemp("ddp")
    config = RunConfig.from_dict(TINY)
    paths = {name: str(tmp_path / name) for name in ("straight", "crashed", "copy", "refused", "bank")}
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), config=config.to_dict(), **paths))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path, config


@pytest.mark.slow
def test_a_torchrun_run_stopped_and_resumed_on_two_processes_is_bit_identical(ddp_runs):
    tmp_path, _ = ddp_runs
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "crashed" / "checkpoint.pt", weights_only=True)
    assert straight["world_size"] == 2 and resumed["epoch"] == 2
    for part in ("model", "objective"):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)  # bit for bit, the queue included
    assert int(straight["objective"]["queue_ptr"]) == (2 * 3 * 32) % 64  # the global batch of 32 enqueued per step
    assert len((tmp_path / "straight" / "metrics.csv").read_text().splitlines()) == 1 + 2  # rank 0 alone wrote


@pytest.mark.slow
def test_a_two_process_checkpoint_resumes_on_one_process(ddp_runs, capsys):
    from infomin_cli.engine.pretrain import pretrain

    tmp_path, config = ddp_runs
    assert torch.load(tmp_path / "copy" / "checkpoint.pt", weights_only=True)["epoch"] == 1
    summary = pretrain(config, tmp_path / "copy", resume=True, progress=False)
    assert summary["epochs"] == 2 and summary["world_size"] == 1
    assert "resuming a 2-process run with 1" in capsys.readouterr().err
    assert torch.load(tmp_path / "copy" / "checkpoint.pt", weights_only=True)["epoch"] == 2
    shutil.rmtree(tmp_path / "copy")


@pytest.mark.slow
def test_sync_bn_on_cpu_and_an_uneven_global_batch_are_refused_on_every_rank(ddp_runs):
    tmp_path, _ = ddp_runs
    sync_bn, odd_batch = json.loads((tmp_path / "refused.json").read_text())
    assert "--sync-bn needs CUDA" in sync_bn and "must split evenly over the 2 processes" in odd_batch
    assert not (tmp_path / "refused0").exists() and not (tmp_path / "refused1").exists()


@pytest.mark.slow
def test_a_memory_bank_on_two_ranks_updates_the_entries_of_both_ranks_samples(ddp_runs):
    """After one epoch every one of the 96 entries has moved from its random start, not only rank 0's half."""
    tmp_path, _ = ddp_runs
    import torch.nn.functional as F

    banks = torch.load(tmp_path / "bank" / "checkpoint.pt", weights_only=True)["objective"]
    generator = torch.Generator().manual_seed(0)  # the bank's initial draw (objectives/memory_bank.py)
    for name in ("bank1", "bank2"):
        start = F.normalize(torch.randn(96, 128, generator=generator), dim=1)
        moved = (banks[name] - start).abs().amax(dim=1) > 1e-3
        assert bool(moved.all()), f"{name}: {int((~moved).sum())} entries never updated"
