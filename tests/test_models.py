"""Encoders: one per view for asymmetric views (1 vs 2 channels), shared for same-kind views."""

import pytest
import torch

from infomin_cli.config import RunConfig
from infomin_cli.models import ENCODERS, build_model


@pytest.mark.parametrize("encoder", ["convnet", "alexnet-half"])
def test_asymmetric_views_get_two_encoders_and_unit_embeddings(encoder):
    model = build_model(RunConfig(encoder=encoder, feat_dim=32), (1, 2), shared_encoder=False)
    assert len(model.encoders) == 2
    z1, z2 = model(torch.randn(4, 1, 64, 64), torch.randn(4, 2, 64, 64))
    assert z1.shape == z2.shape == (4, 32)
    assert torch.allclose(z1.norm(dim=1), torch.ones(4), atol=1e-5)


def test_shared_encoder_probe_features_use_the_one_encoder():
    model = build_model(RunConfig(encoder="convnet"), (3, 3), shared_encoder=True)
    assert len(model.encoders) == 1
    feats = model.features([torch.randn(2, 3, 32, 32)])
    assert feats.shape[0] == 2


def test_probe_layers_are_named_and_pooled_to_a_fixed_size():
    model = build_model(RunConfig(encoder="alexnet-half"), (1, 2), shared_encoder=False)
    for size in (32, 64):
        feats = model.features([torch.randn(2, 1, size, size), torch.randn(2, 2, size, size)], "conv5")
        assert feats.shape == (2, 2 * 128 * 4)  # 2 encoders x 128 channels x 2x2 grid
    assert model.encoders[0].default_probe_layer == "conv5"


def test_every_registered_encoder_builds():
    assert {"convnet", "alexnet-half", "resnet18", "resnet50"} <= set(ENCODERS.names())
