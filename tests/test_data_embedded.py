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


# Reference hash of the images before masks were added (version 1 generator), computed from the
# unmodified code: sha256 of generate(EmbeddedSpec(n_train=40, n_test=20))["images"]. The full
# 10,000-image set's images hashed 678777502e6db5a6602444d387637fb8ef3ceaf4f41df332e8db16dc0c690167
# both before and after the change (checked once; ~20 s, so not repeated here).
SMALL_V1_IMAGES_SHA256 = "d0a932d3b196ac2ce647b03bf80cef5f463e9dad736ce6ced8d5b25f616f9035"


def test_masks_leave_the_images_byte_identical():
    import hashlib

    images = embedded.generate(embedded.EmbeddedSpec(n_train=40, n_test=20))["images"]
    assert hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest() == SMALL_V1_IMAGES_SHA256


def test_masks_align_with_their_glyphs():
    """Mask = digit + 1 on the glyph, 0 elsewhere; its pixels are the ones drawn in the glyph's colour."""
    arrays = embedded.generate(SMALL)
    masks, images = arrays["masks"], arrays["images"].astype(float)
    assert masks.shape == (40, 32, 32) and masks.dtype == np.uint8
    luma = np.tensordot(embedded.LUMA, images, axes=([0], [1]))  # (N, H, W)
    for i in range(len(masks)):
        glyph = masks[i] > 0
        assert set(np.unique(masks[i])) == {0, arrays["class"][i] + 1}
        assert 0.01 < glyph.mean() < 0.6  # a thin "1" covers ~3 %
        # the glyph's colour stands >= 70 luma levels from the background's mean: the mask must split the
        # image into two groups of very different luminance, and a mask moved by 6 px must split it worse
        gap = abs(luma[i][glyph].mean() - luma[i][~glyph].mean())
        shifted = np.roll(glyph, 6, axis=1)
        assert gap > 35
        assert gap > abs(luma[i][shifted].mean() - luma[i][~shifted].mean()) + 10


def test_a_cache_of_an_older_version_is_not_reused(tmp_path, monkeypatch):
    """The version is part of the cache key: a version-1 file (no masks) is never read as version 2."""
    from dataclasses import replace

    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path))
    old = replace(SMALL, version=1)
    assert old.key() != SMALL.key()
    arrays = embedded.generate(SMALL)
    np.savez(tmp_path / f"embedded-{old.key()}.npz", **{k: v for k, v in arrays.items() if k != "masks"})
    assert "masks" in embedded.load_arrays(SMALL)
    assert len(list(tmp_path.glob("embedded-*.npz"))) == 2
