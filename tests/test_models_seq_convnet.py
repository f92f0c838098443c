"""B.4's encoder: a 4-layer ConvNet (8, 16, 32, 64) per frame, average-pooled to 64-d, and a
one-layer LSTM(64, 64) over frames 1..k; the sequence and image representations are its probe layers."""

import pytest
import torch

from infomin_cli.models import ENCODERS, ContrastiveModel
from infomin_cli.models.seq_convnet import SeqConvNet

K = 10


def encoder(seed: int = 0) -> SeqConvNet:
    torch.manual_seed(seed)
    return ENCODERS.get("seq-convnet")(3).eval()


def probe_input(size: int = 32, batch: int = 3, seed: int = 1) -> torch.Tensor:
    """Frames 1..k then frame t, as the view pair's probe_inputs gives them."""
    return torch.randn(batch, K + 1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size", [32, 64])
def test_sequences_and_images_both_map_to_the_64_d_representation(size):
    enc = encoder()
    assert enc(torch.randn(2, K, 3, size, size)).shape == (2, 64)
    assert enc(torch.randn(2, 3, size, size)).shape == (2, 64)
    assert enc.out_dim == 64 and enc.min_image_size == 8  # strides 2, 1, 2, 2


def test_the_cnn_has_the_papers_widths_and_the_lstm_is_one_layer_of_64():
    enc = encoder()
    convs = [m for m in enc.stages.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64]
    assert (enc.lstm.input_size, enc.lstm.hidden_size, enc.lstm.num_layers) == (64, 64, 1)
    # 24,408 conv weights + 240 BN parameters + 33,280 in the LSTM: small enough for a CPU
    assert sum(p.numel() for p in enc.parameters()) == 57_928


def test_the_sequence_representation_depends_on_frame_order():
    """An LSTM, not a pool over frames: the same frames in reverse give another representation."""
    enc, x = encoder(), probe_input()
    with torch.no_grad():
        forward, backward = enc.features(x, "sequence"), enc.features(torch.cat([x[:, :-1].flip(1), x[:, -1:]], 1), "sequence")
    assert not torch.allclose(forward, backward, atol=1e-4)


def test_the_image_layer_reads_only_frame_t():
    enc, x = encoder(), probe_input()
    other = x.clone()
    other[:, :-1] = torch.randn_like(other[:, :-1])
    with torch.no_grad():
        assert torch.equal(enc.features(x, "image"), enc.features(other, "image"))
        assert torch.allclose(enc.features(x, "image"), enc.features(x[:, -1], "image"))
        assert enc.features(x, "image").shape == (3, 64)


def test_the_sequence_layer_ignores_frame_t():
    enc, x = encoder(), probe_input()
    other = x.clone()
    other[:, -1] = torch.randn_like(other[:, -1])
    with torch.no_grad():
        assert torch.equal(enc.features(x, "sequence"), enc.features(other, "sequence"))
        assert torch.allclose(enc.features(x, "sequence"), enc(x[:, :-1]), atol=1e-6)


def test_probe_layers_are_sequence_then_image_and_dense_probes_are_refused():
    enc = encoder()
    assert enc.layers == ["sequence", "image"] and enc.default_probe_layer == "sequence"
    with pytest.raises(KeyError):
        enc.features(probe_input(), "conv4")
    with pytest.raises(ValueError, match="no dense probe"):
        enc.feature_map(torch.randn(2, 3, 32, 32), "image")
    with pytest.raises(ValueError, match="k \\+ 1"):
        enc.features(torch.randn(2, 3, 32, 32), "sequence")


def test_one_shared_encoder_embeds_v1_sequences_and_v2_images():
    model = ContrastiveModel("seq-convnet", "linear", (3, 3), True, 64)
    assert len(model.encoders) == 1 and model.layers == ["sequence", "image"]
    z1, z2 = model(torch.randn(4, K, 3, 32, 32), torch.randn(4, 3, 32, 32))
    assert z1.shape == z2.shape == (4, 64)
    assert torch.allclose(z1.norm(dim=1), torch.ones(4), atol=1e-5)
    model.eval()
    with torch.no_grad():
        assert model.features([probe_input()]).shape == (3, 64)  # the default layer: sequence
        assert model.features([probe_input()], "image").shape == (3, 64)
