"""The embedded set is deterministic, carries several labels, and is cached."""

import numpy as np

from infomin_cli.data import embedded

SMALL = embedded.EmbeddedSpec(n_train=30, n_test=10)


def test_generation_is_deterministic():
    a, b = embedded.generate(SMALL), embedded.generate(SMALL)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_it_carries_class_and_nuisance_labels():
    arrays = embedded.generate(SMALL)
    assert arrays["images"].shape == (40, 3, 32, 32) and arrays["images"].dtype == np.uint8
    assert set(arrays) >= {"class", "background", "position", "font"}
    assert sorted(np.bincount(arrays["class"])) == [4] * 10  # balanced classes
    assert arrays["background"].max() < len(embedded.PHOTOS)


def test_the_glyph_differs_from_its_background():
    """Each image holds a visible glyph: some pixels stand far from the image's median colour."""
    images = embedded.generate(SMALL)["images"].astype(float)
    median = np.median(images, axis=(2, 3), keepdims=True)
    assert (np.abs(images - median).max(axis=(1, 2, 3)) > 60).all()


def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path))
    first = embedded.load_arrays(SMALL)
    assert len(list(tmp_path.glob("embedded-*.npz"))) == 1
    monkeypatch.setattr(embedded, "generate", lambda spec: (_ for _ in ()).throw(AssertionError("regenerated")))
    np.testing.assert_array_equal(embedded.load_arrays(SMALL)["images"], first["images"])
