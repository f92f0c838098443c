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


def _photo_folder(root, n=12, damaged=False):
    """n photo JPEGs and one PNG in two classes, at ImageNet's geometry for 28 px crops (about
    500x375 at 224 px -> 62x47, both orientations; one grayscale): cuts of scikit-image's sample
    photos at their own resolution, as smooth per pixel as a camera's. With `damaged`: a file that
    is no image, one whose header is cut, and one whose header reads but whose data stops half way."""
    from skimage import data

    photos = [Image.fromarray(getattr(data, name)()[..., :3]) for name in ("astronaut", "coffee", "chelsea", "rocket")]
    for i in range(n):
        h, w = (45 + i, 60 + i) if i % 3 else (64 - i, 48 + i)
        image = photos[i % len(photos)].crop((40 + 9 * i, 60 + 5 * i, 40 + 9 * i + w, 60 + 5 * i + h))
        folder = root / "train" / f"n0{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        (image.convert("L") if i == 4 else image).save(folder / f"{i:02d}.JPEG", quality=90)
    photos[0].crop((200, 100, 250, 166)).save(root / "train" / "n00" / "png.png")
    for name in ("n00", "n01"):
        (root / "val" / name).mkdir(parents=True, exist_ok=True)
        photos[1].resize((40, 40), Image.LANCZOS).save(root / "val" / name / "v.JPEG")
    if damaged:
        whole = (root / "train" / "n00" / "00.JPEG").read_bytes()
        (root / "train" / "n00" / "00a_garbage.JPEG").write_bytes(b"not an image")
        (root / "train" / "n01" / "01a_header_cut.JPEG").write_bytes(whole[:200])
        (root / "train" / "n01" / "01b_half.JPEG").write_bytes(whole[: len(whole) // 2])


def _both_paths(root, views, order, batch, seed, workers=0, strict=False):
    """The same epoch read by the worker-decode path and by the device-decode path (on this CPU,
    libjpeg-turbo standing in for nvjpeg): the two sources and their batches."""
    worker = load_dataset("imagenet", root, 28, stream=True, strict=strict, workers=workers).pretrain
    device = StreamSource(worker.files, worker.labels, worker.fit, strict, workers, decode_on_device=True)
    runs = [torch.cat(list(epoch_batches(source, order, batch, "cpu", torch.Generator().manual_seed(seed), views)))
            for source in (worker, device)]
    return (worker, device), runs


def test_the_device_decode_path_on_a_cpu_gives_the_worker_paths_items_and_crops(tmp_path):
    """Same items, same boxes: every crop is within 1.34 grey levels (what two JPEG decoders differ
    by on a photo) of the worker path's crop of the same place, and of all the worker path's crops,
    from this seed and another, that one is the nearest."""
    _photo_folder(tmp_path)
    views = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 28)
    order = torch.randperm(13, generator=torch.Generator().manual_seed(2))[:12]
    _, (worker, device) = _both_paths(tmp_path, views, order, 4, seed=7)
    _, (other_seed, _) = _both_paths(tmp_path, views, order, 4, seed=8)
    assert device.shape == worker.shape and device.shape[:3] == (12, 3, 3) and device.dtype == torch.uint8
    per_crop = (device.float() - worker.float()).abs().flatten(2).mean(-1)  # (place, crop)
    assert per_crop.max() < 1.34, per_crop.max()
    candidates = torch.cat([worker, other_seed]).flatten(0, 1).flatten(1).float()  # every crop of both seeds
    distance = torch.cdist(device.flatten(0, 1).flatten(1).float(), candidates, p=1)
    assert torch.equal(distance.argmin(1), torch.arange(36))


def test_without_stream_crops_the_device_decode_path_gives_the_same_stored_forms(tmp_path):
    _photo_folder(tmp_path)
    _, (worker, device) = _both_paths(tmp_path, None, torch.arange(12), 6, seed=0)
    assert worker.shape == (12, 3, 32, 32) and torch.equal(device, worker)


def test_the_device_decode_path_skips_and_counts_damaged_files_as_the_workers_do(tmp_path):
    """A file that is no image and one whose header is cut are refused in the worker; one whose
    header reads fails only in the batched decode, which is then redone file by file: the next file
    of the listing takes each one's place, with its boxes, on both paths."""
    _photo_folder(tmp_path, damaged=True)
    views = VIEWS.get("infomin-aug").make({}, 28)
    (worker_source, device_source), (worker, device) = _both_paths(tmp_path, views, torch.arange(16), 8, seed=3,
                                                                   workers=2)
    names = sorted(p.rsplit("/", 1)[1] for p in device_source.skipped)
    assert names == ["00a_garbage.JPEG", "01a_header_cut.JPEG", "01b_half.JPEG"]
    assert sorted(worker_source.skipped) == sorted(device_source.skipped)
    assert device.shape == (16, 2, 3, 28, 28)
    assert (device.float() - worker.float()).abs().flatten(2).mean(-1).max() < 1.34


def test_a_jpeg_the_batched_decoder_refuses_but_the_workers_read_is_kept_not_skipped(tmp_path, monkeypatch):
    """nvjpeg refuses some JPEGs libjpeg-turbo reads (CMYK): the batch is decoded again file by file
    and the refused one read as a worker reads it, so nothing is skipped that the worker path keeps."""
    from infomin_cli.data import stream

    _photo_folder(tmp_path)
    refused = (tmp_path / "train" / "n01" / "03.JPEG").read_bytes()
    real = stream.decode_jpegs

    def picky(data, device):
        if any(bytes(d.numpy()) == refused for d in data):
            raise RuntimeError("Error while decoding JPEG images: unsupported colour space")
        return real(data, device)

    monkeypatch.setattr(stream, "decode_jpegs", picky)
    views = VIEWS.get("infomin-aug").make({}, 28)
    (_, device_source), (worker, device) = _both_paths(tmp_path, views, torch.arange(12), 6, seed=1)
    assert device_source.skipped == {}
    assert (device.float() - worker.float()).abs().flatten(2).mean(-1).max() < 1.34


@pytest.mark.parametrize("damaged", ["00a_garbage", "01b_half"])
def test_strict_data_on_the_device_decode_path_stops_with_the_same_one_line_error(tmp_path, damaged):
    _photo_folder(tmp_path, damaged=True)
    for path in (tmp_path / "train").rglob("0*_*.JPEG"):
        if path.stem != damaged:
            path.unlink()
    views = VIEWS.get("infomin-aug").make({}, 28)
    with pytest.raises(InfominError, match=rf"cannot read .*{damaged}\.JPEG .*--strict-data"):
        _both_paths(tmp_path, views, torch.arange(14), 7, seed=0, strict=True)


def test_a_resumed_epoch_on_the_device_decode_path_redraws_the_same_crops(tmp_path):
    """Resuming restores the run's generator (engine/pretrain.py); the epoch's seeds, and so every
    box, come from it."""
    _photo_folder(tmp_path)
    source = StreamSource(load_dataset("imagenet", tmp_path, 28, stream=True, workers=0).pretrain.files, {},
                          Fit(32), workers=0, decode_on_device=True)
    views = VIEWS.get("infomin-aug").make({"level": "infomin+jigsaw"}, 28)
    generator = torch.Generator().manual_seed(11)
    saved = generator.get_state()
    first = torch.cat(list(epoch_batches(source, torch.arange(12), 4, "cpu", generator, views)))
    generator.set_state(saved)
    again = torch.cat(list(epoch_batches(source, torch.arange(12), 4, "cpu", generator, views)))
    assert torch.equal(first, again)
