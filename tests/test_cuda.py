"""CUDA paths: views built on the GPU, bf16 training, probing. Skipped where no GPU is visible.

The rest of the suite runs on CUDA too when one is present (device 'auto'); these tests pin the
claims that only mean something on a GPU.
"""

import pytest
import torch

from infomin_cli.evaluate.probe import probe_run
from infomin_cli.pipeline import train_run as pretrain
from infomin_cli.views import VIEWS
from infomin_cli.views.colorspaces import SPACES, convert

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")


@pytest.mark.parametrize("space", sorted(SPACES))
def test_colour_conversion_on_the_gpu_matches_the_cpu(space):
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cpu = convert(x, space)
    gpu = convert(x.cuda(), space).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4), (cpu - gpu).abs().max()


@pytest.mark.parametrize(
    ("family", "knobs"),
    [("infomin-aug", {"level": "infomin+jigsaw"}), ("lab-split", {}), ("freq-split", {}), ("colorspace-split", {"space": "hed"})],
)
def test_every_view_family_stays_on_the_gpu_with_per_sample_parameters(family, knobs):
    pair = VIEWS.get(family).make(knobs, 32)
    images = torch.randint(0, 256, (16, 3, 48, 48), dtype=torch.uint8, device="cuda")
    images[:] = images[:1]  # one image repeated: any difference between samples is the per-sample randomness
    v1, v2 = pair(images, torch.Generator(device="cuda").manual_seed(0))
    assert v1.is_cuda and v2.is_cuda and torch.isfinite(v1).all() and torch.isfinite(v2).all()
    if family == "infomin-aug":
        assert not torch.allclose(v1[0], v1[1])


def test_patches_are_cut_on_the_gpu():
    pair = VIEWS.get("patches").make({"distance": 8}, 8)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, device="cuda")
    v1, v2 = pair(images, torch.Generator(device="cuda").manual_seed(0))
    assert v1.is_cuda and v1.shape[-1] == 8 and v2.shape == v1.shape


def test_a_cuda_run_trains_in_bf16_and_probes(tmp_path, tiny_config):
    config = tiny_config.merged({"device": "cuda", "views": "infomin-aug", "epochs": 2})
    summary = pretrain(config, tmp_path / "run", progress=False)
    assert summary["i_nce"] <= summary["log_K"] + 1e-9
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["epoch"] == 2
    row = probe_run(tmp_path / "run", "class", results=None, epochs=5)
    assert 0 <= row["metric_value"] <= 100


def test_jpegs_decoded_on_the_gpu_in_one_call_match_the_cpu_decoder(tmp_path):
    import numpy as np
    from PIL import Image

    from infomin_cli.data.stream import decode_jpeg_on_device, read_image

    paths = []
    for i, size in enumerate([(40, 30), (64, 48)]):
        paths.append(tmp_path / f"{i}.jpg")
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(paths[-1])
    data = [torch.from_numpy(np.fromfile(p, dtype=np.uint8)) for p in paths]
    gpu = decode_jpeg_on_device(data, torch.device("cuda"))
    for p, image in zip(paths, gpu, strict=True):
        cpu = read_image(str(p))
        assert image.device.type == "cuda" and image.shape == cpu.shape
        assert (image.cpu().int() - cpu.int()).abs().float().mean() < 2  # nvjpeg vs libjpeg-turbo rounding


def test_a_streamed_epoch_on_the_gpu_decodes_there_and_skips_a_corrupt_file(tmp_path):
    from infomin_cli.data import load_dataset
    from infomin_cli.data.source import epoch_batches
    from tests.test_data_stream import _folder

    _folder(tmp_path)
    source = load_dataset("imagenet", tmp_path, 28, stream=True, workers=1).pretrain
    views = VIEWS.get("infomin-aug").make({}, 28)
    g = torch.Generator(device="cuda").manual_seed(0)
    batches = list(epoch_batches(source, torch.arange(10), 5, torch.device("cuda"), g, views))
    assert all(b.device.type == "cuda" and b.shape == (5, 2, 3, 28, 28) for b in batches)
    assert any("z_garbage" in path for path in source.skipped)  # nvjpeg may or may not refuse the truncated one
