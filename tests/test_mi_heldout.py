"""Held-out I_NCE of image views: a run folder's own encoders+heads, and a fresh view critic."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from infomin_cli.config import RunConfig
from infomin_cli.errors import InfominError
from infomin_cli.mi.heldout import critic_as_embedder, heldout_estimate, train_view_critic


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as `pretrain` writes it (config + checkpoint), with untrained weights."""
    from infomin_cli.runs import build, validate

    folder = tmp_path_factory.mktemp("run")
    config = validate(RunConfig(views="freq-split", batch_size=32, encoder="convnet", feat_dim=16))
    config.save(folder / "config.yaml")
    torch.save({"model": build(config).model.state_dict()}, folder / "checkpoint.pt")
    return folder


def test_run_heldout_estimate_reports_k_log_k_interval_and_stays_below_log_k(run_dir: Path) -> None:
    from infomin_cli.runs import load_run

    run = load_run(run_dir, "cpu")
    est = heldout_estimate(run.model, run.views, run.dataset.test.images, 32, run.config.temperature,
                           run.device, n_batches=4, train_images=run.dataset.pretrain.images[:128])
    assert est.K == 32 and est.log_k == pytest.approx(math.log(32))
    assert est.ci_low <= est.value <= est.ci_high <= math.log(32)
    assert est.n_batches == 4 and est.train_value is not None


def test_run_heldout_with_negatives_scores_against_n_keys(run_dir: Path) -> None:
    from infomin_cli.runs import load_run

    run = load_run(run_dir, "cpu")
    images = run.dataset.test.images[:256]
    est = heldout_estimate(run.model, run.views, images, 32, run.config.temperature, run.device,
                           negatives=256, n_batches=4)
    assert est.K == 256 and est.value <= math.log(256)
    with pytest.raises(InfominError, match="--negatives 512"):
        heldout_estimate(run.model, run.views, images, 32, run.config.temperature, run.device, negatives=512)


def test_fresh_view_critic_learns_shared_information_between_views() -> None:
    """Two views of the same image share information: a briefly trained critic finds some (> 0)."""
    from infomin_cli.data import load_dataset
    from infomin_cli.views import VIEWS

    data = load_dataset("embedded")
    views = VIEWS.get("freq-split").make({"sigma": 0.7}, int(data.test.images.shape[-1]))
    critic = train_view_critic(views, data.pretrain.images[:2048], steps=150, batch_size=32,
                               device=torch.device("cpu"))
    est = heldout_estimate(critic_as_embedder(critic), views, data.test.images[:320], 32, critic.temperature,
                           "cpu", n_batches=10)
    assert 0.0 < est.ci_low and est.value <= math.log(32)
