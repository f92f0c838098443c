"""Image folders streamed from disk: real files, crops from the original photo, bad files skipped."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import ks_2samp
from torchvision.transforms import RandomResizedCrop

from infomin_cli.data import load_dataset
from infomin_cli.data.source import epoch_batches
from infomin_cli.data.stream import Fit, StreamSource, read_image, stream_decision
from infomin_cli.errors import InfominError
from infomin_cli.views import VIEWS
from infomin_cli.views.crop import OriginalCrops

torch.set_num_threads(1)


def _photo(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def _folder(root, kinds=("rgb", "gray", "cmyk", "png"), corrupt=True):
    """One file per kind and class, in ImageNet's layout; sizes differ as real photos do."""
    for c, name in enumerate(["n01", "n02"]):
        for i, kind in enumerate(kinds):
            image = Image.fromarray(_photo(30 + 7 * i, 50 - 5 * i, seed=10 * c + i))
            folder = root / "train" / name
            folder.mkdir(parents=True, exist_ok=True)
            if kind == "png":
                image.save(folder / f"{i}.png")
            else:
                image.convert({"rgb": "RGB", "gray": "L", "cmyk": "CMYK"}[kind]).save(folder / f"{i}.JPEG", quality=90)
        (root / "val" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(_photo(40, 40, seed=99 + c)).save(root / "val" / name / "v.JPEG")
    if corrupt:
        (root / "train" / "n01" / "z_truncated.JPEG").write_bytes((root / "train" / "n01" / "0.JPEG").read_bytes()[:200])
        (root / "train" / "n02" / "z_garbage.JPEG").write_bytes(b"not an image")


def test_grayscale_cmyk_and_png_files_decode_to_rgb_at_their_own_size(tmp_path):
    _folder(tmp_path, corrupt=False)
    for path in sorted((tmp_path / "train").rglob("*.*")):
        image = read_image(str(path))
        with Image.open(path) as reference:
            assert image.shape == (3, reference.height, reference.width) and image.dtype == torch.uint8


def test_a_streamed_epoch_skips_and_counts_corrupt_files_and_keeps_batches_full(tmp_path):
    _folder(tmp_path)
    data = load_dataset("imagenet", tmp_path, 28, stream=True, workers=0)
    assert isinstance(data.pretrain, StreamSource) and len(data.pretrain) == 10
    views = VIEWS.get("infomin-aug").make({}, 28)
    order = torch.arange(10)
    batches = list(epoch_batches(data.pretrain, order, 5, "cpu", torch.Generator().manual_seed(0), views))
    assert [b.shape for b in batches] == [(5, 2, 3, 28, 28)] * 2
    assert sorted(p.rsplit("/", 1)[1] for p in data.pretrain.skipped) == ["z_garbage.JPEG", "z_truncated.JPEG"]
    assert data.test.batch(torch.arange(2)).shape == (2, 3, 32, 32)  # stored form: 28 * 256/224


def test_strict_data_stops_at_the_first_unreadable_file_naming_it(tmp_path):
    _folder(tmp_path)
    data = load_dataset("imagenet", tmp_path, 28, stream=True, strict=True, workers=0)
    with pytest.raises(InfominError, match=r"cannot read .*z_(truncated|garbage)\.JPEG .*--strict-data"):
        list(epoch_batches(data.pretrain, torch.arange(10), 5, "cpu", torch.Generator(), None))


def test_worker_processes_give_the_same_batches_as_reading_in_process(tmp_path):
    _folder(tmp_path)
    views = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 28)
    runs = []
    for workers in (0, 2):
        source = load_dataset("imagenet", tmp_path, 28, stream=True, workers=workers).pretrain
        order = torch.randperm(10, generator=torch.Generator().manual_seed(1))
        runs.append(torch.cat(list(epoch_batches(source, order, 5, "cpu", torch.Generator().manual_seed(3), views))))
    assert runs[0].shape[1] == 3  # two views and the JigSaw crop
    assert torch.equal(runs[0], runs[1])


def test_stream_crop_boxes_on_original_size_photos_match_torchvisions_get_params():
    """The KS claims of test_views_crop, on the streaming path: boxes drawn per file, at 375x500."""
    crops = OriginalCrops((224,), ((0.2, 1.0),))
    ours = torch.stack([crops.boxes(375, 500, torch.Generator().manual_seed(s))[0][0] for s in range(2000)]).double()
    torch.manual_seed(0)
    ref = torch.tensor([RandomResizedCrop.get_params(torch.empty(1, 375, 500), [0.2, 1.0], [3 / 4, 4 / 3])
                        for _ in range(2000)]).double()
    for name, a, b in [
        ("area", ref[:, 2] * ref[:, 3], ours[:, 2] * ours[:, 3]),
        ("log aspect", (ref[:, 3] / ref[:, 2]).log(), (ours[:, 3] / ours[:, 2]).log()),
        ("centre y", ref[:, 0] + ref[:, 2] / 2, ours[:, 0] + ours[:, 2] / 2),
        ("centre x", ref[:, 1] + ref[:, 3] / 2, ours[:, 1] + ours[:, 3] / 2),
    ]:
        assert ks_2samp(a.numpy(), b.numpy()).pvalue > 1e-3, name


def test_the_crop_is_taken_from_the_original_photo_not_the_stored_square(tmp_path):
    # a 4:3 photo whose columns are its x coordinate; crop-scale 1 keeps the whole photo (aspect
    # 4/3 is allowed), so the view spans the full width: the stored centre square would not
    x = np.tile(np.linspace(0, 255, 80).astype(np.uint8)[None, :, None], (60, 1, 3))
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "val" / "a").mkdir(parents=True)
    Image.fromarray(x).save(tmp_path / "train" / "a" / "p.png")
    Image.fromarray(x).save(tmp_path / "val" / "a" / "p.png")
    source = load_dataset("imagefolder", tmp_path, 24, stream=True, workers=0).pretrain
    views = VIEWS.get("infomin-aug").make({"crop-scale": 1.0}, 24)
    [batch] = epoch_batches(source, torch.zeros(4, dtype=torch.long), 4, "cpu", torch.Generator().manual_seed(0), views)
    row = batch[:, 0, 0, 12].float()  # view 1, red channel, middle row, per sample
    ends = torch.stack([row[:, 0], row[:, -1]], 1).sort(1).values
    assert (ends[:, 0] < 10).all() and (ends[:, 1] > 245).all()  # both photo edges are in every view (flipped or not)
    stored = source.batch(torch.tensor([0]))[0, 0, 0].float()
    assert stored[0] > 20  # the stored square starts inside the photo


def test_native_fit_keeps_div2k_pixels_and_moves_the_square_in_training():
    image = torch.arange(3 * 40 * 50, dtype=torch.int64).remainder(256).to(torch.uint8).view(3, 40, 50)
    fit = Fit(32, native=True)
    assert torch.equal(fit(image), image[:, 4:36, 9:41])
    shifted = {tuple(fit(image, torch.Generator().manual_seed(s))[0, 0, :2].tolist()) for s in range(8)}
    assert len(shifted) > 1


def test_streaming_is_chosen_when_the_folder_would_not_fit_and_no_stream_then_refuses(monkeypatch):
    from infomin_cli.data import stream

    monkeypatch.setattr(stream, "available_memory", lambda: 10 * 2**30)
    assert stream_decision("imagenet", 1_281_167, 256, None) is True
    assert stream_decision("imagenet", 1000, 256, None) is False
    assert stream_decision("imagenet", 1000, 256, True) is True
    with pytest.raises(InfominError, match="drop --no-stream"):
        stream_decision("imagenet", 1_281_167, 256, False)


def test_datasets_held_in_memory_refuse_stream_in_one_line():
    with pytest.raises(InfominError, match="cannot be streamed; --stream works for div2k, imagefolder"):
        load_dataset("embedded", None, None, stream=True)


def test_a_resumed_streamed_run_draws_the_same_crops_as_an_uninterrupted_one(tmp_path, crash_after_first_epoch):
    from infomin_cli.config import RunConfig
    from infomin_cli.engine.pretrain import pretrain

    _folder(tmp_path / "data", corrupt=False)
    config = RunConfig(dataset="imagenet", data_root=str(tmp_path / "data"), views="infomin-aug", encoder="convnet",
                       image_size=16, batch_size=4, epochs=2, stream=True, workers=0, knn_monitor=False)
    summary = pretrain(config, tmp_path / "full", progress=False)
    assert summary["streamed"] and not summary["generated"]  # summary.json says it read from disk
    with crash_after_first_epoch():
        pretrain(config, tmp_path / "half", progress=False)
    pretrain(config, tmp_path / "half", resume=True, progress=False)
    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["model"]
    half = torch.load(tmp_path / "half" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(full[k], half[k]) for k in full)
