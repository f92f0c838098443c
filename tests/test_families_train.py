"""Every view family trains through `pretrain` and can be probed (on tiny data, one epoch)."""

import pytest

from infomin_cli.evaluate.probe import probe_run
from infomin_cli.pipeline import train_run as pretrain
from infomin_cli.views import VIEWS

CASES = [
    ("colorspace-split", {"space": "hed"}, None),
    ("ydbdr-split", {}, None),
    ("freq-split", {"sigma": 1.0}, None),
    ("infomin-aug", {"level": "infomin+jigsaw"}, None),
    ("infomin-aug", {"jitter": 2.0, "crop-scale": 0.08}, None),
    ("patches", {"distance": 4}, 8),
]


@pytest.mark.parametrize(("views", "knobs", "image_size"), CASES)
def test_family_trains_and_probes(tmp_path, tiny_config, views, knobs, image_size):
    if "level" in knobs:
        assert knobs["level"] in VIEWS.get(views).knob("level").choices
    config = tiny_config.merged({"views": views, "knobs": knobs, "image_size": image_size, "epochs": 1})
    summary = pretrain(config, tmp_path / "run", progress=False)
    assert summary["i_nce"] <= summary["log_K"] + 1e-9
    row = probe_run(tmp_path / "run", "class", results=None, epochs=2)
    assert row["views"] == views and 0 <= row["metric_value"] <= 100


def test_patch_family_defaults_to_high_resolution_photos_at_64_px():
    from infomin_cli.config import RunConfig
    from infomin_cli.runs import validate

    config = validate(RunConfig(views="patches"))
    assert config.dataset == "highres" and config.image_size == 64
    assert validate(RunConfig(views="lab-split")).dataset == "embedded"
