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


def _photo_jpegs(tmp_path):
    """scikit-image's sample photos as q90 JPEGs (4:2:0, as cameras and ImageNet write them)."""
    from PIL import Image
    from skimage import data

    paths = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"):
        paths.append(tmp_path / f"{name}.jpg")
        Image.fromarray(getattr(data, name)()[..., :3]).save(paths[-1], quality=90)
    return paths


def test_jpegs_decoded_on_the_gpu_in_one_call_match_the_cpu_decoder(tmp_path):
    """nvjpeg's IDCT and chroma upsampling round differently from libjpeg-turbo's: on 64 photo
    JPEGs the mean absolute difference per image was 0.10-1.34 (issue 21). A photo off by more than
    1.5 on average is decoded wrongly (channel order, shifted rows, garbage); random-noise images
    are no test of that, every pixel being an edge where the two upsamplers part most."""
    import numpy as np

    from infomin_cli.data.stream import decode_jpegs, read_image

    paths = _photo_jpegs(tmp_path)
    data = [torch.from_numpy(np.fromfile(p, dtype=np.uint8)) for p in paths]
    gpu = decode_jpegs(data, torch.device("cuda"))
    for p, image in zip(paths, gpu, strict=True):
        cpu = read_image(str(p))
        assert image.device.type == "cuda" and image.shape == cpu.shape
        assert (image.cpu().int() - cpu.int()).abs().float().mean() < 1.5, p.name


def test_decoding_on_the_gpu_never_writes_memory_that_work_queued_on_the_callers_stream_still_reads(tmp_path):
    """pytorch/vision#9606's experiment through our decoder: fill tensors the decoded image's size,
    queue a long kernel and then one sum per tensor, free the tensors while the sums still wait,
    decode, then check the sums. The caching allocator hands the decoder one of the freed blocks
    (asserted, so the test can fail); without the barrier in `decode_jpegs` the hardware decoder
    writes it before the sums read it (H100: wrong sums in most iterations)."""
    import numpy as np

    from infomin_cli.data.stream import decode_jpegs

    path = _photo_jpegs(tmp_path)[0]
    data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
    device = torch.device("cuda")
    shape = tuple(decode_jpegs([data], device)[0].shape)
    reused = wrong = 0
    for _ in range(40):
        filled = [torch.full(shape, value, dtype=torch.uint8, device=device) for value in range(1, 9)]
        torch.cuda.synchronize()
        torch.cuda._sleep(50_000_000)  # tens of milliseconds of work ahead of the sums on this stream
        sums = [t.sum(dtype=torch.int64) for t in filled]
        freed = {t.data_ptr() for t in filled}
        del filled
        [image] = decode_jpegs([data], device)
        reused += image.data_ptr() in freed
        torch.cuda.synchronize()
        expected = [value * image.numel() for value in range(1, 9)]
        wrong += [int(s) for s in sums] != expected
    assert reused > 0, "the decoder never got a freed block: the experiment proves nothing here"
    assert wrong == 0, f"{wrong} of 40 iterations read JPEG pixels in place of the tensors they summed"


def test_the_device_decode_path_on_the_gpu_matches_its_cpu_stand_in(tmp_path):
    """The same epoch through the same code, nvjpeg + CUDA roi_align against libjpeg-turbo + CPU
    roi_align: the same places and boxes; pixels within what the two decoders differ by."""
    from infomin_cli.data import load_dataset
    from infomin_cli.data.source import epoch_batches
    from infomin_cli.data.stream import StreamSource
    from tests.test_data_stream import _photo_folder

    _photo_folder(tmp_path)
    stream = load_dataset("imagenet", tmp_path, 28, stream=True, workers=1).pretrain
    views = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 28)
    runs = []
    for device in ("cuda", "cpu"):
        source = StreamSource(stream.files, stream.labels, stream.fit, workers=1, decode_on_device=True)
        batches = epoch_batches(source, torch.arange(12), 4, torch.device(device), torch.Generator().manual_seed(0), views)
        runs.append(torch.cat([b.cpu() for b in batches]))
    per_crop = (runs[0].float() - runs[1].float()).abs().flatten(2).mean(-1)
    assert runs[0].shape == runs[1].shape and per_crop.max() < 1.5, per_crop.max()


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
