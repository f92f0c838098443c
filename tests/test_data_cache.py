"""The cache folder: a damaged cached file is rebuilt and said in one line; the folder itself, when
it is a file or sits under one, is refused in one line; nothing cached is read as a pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from infomin_cli.data import cache, embedded, moving_mnist
from infomin_cli.errors import InfominError

SMALL = embedded.EmbeddedSpec(n_train=30, n_test=10)
ARRAYS = {"a": ((2, 3), "uint8"), "b": ((2,), "int64")}


def _build(calls: list[int]):
    def build():
        calls.append(1)
        return {"a": np.ones((2, 3), np.uint8), "b": np.arange(2, dtype=np.int64)}

    return build


def _garbage(path):
    path.write_bytes(b"PK\x03\x04 not a zip at all")


def _truncated(path):
    path.write_bytes(path.read_bytes()[:40])


def _wrong_shape(path):
    np.savez(path, a=np.ones((5, 5), np.uint8), b=np.arange(2, dtype=np.int64))


def _missing_key(path):
    np.savez(path, a=np.ones((2, 3), np.uint8))


def _pickled(path):
    """An object array: reading it would unpickle, so it is refused and rebuilt."""
    np.savez(path, a=np.array([{"x": 1}, None], dtype=object), b=np.arange(2, dtype=np.int64))


@pytest.mark.parametrize("damage", [_garbage, _truncated, _wrong_shape, _missing_key, _pickled])
def test_a_damaged_cache_file_is_rebuilt_and_said_in_one_line(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path))
    calls: list[int] = []
    cache.cached("x.npz", _build(calls), ARRAYS, cache.shape_check(ARRAYS))
    capsys.readouterr()
    damage(tmp_path / "x.npz")
    again = cache.cached("x.npz", _build(calls), ARRAYS, cache.shape_check(ARRAYS))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(calls) == 2 and again["a"].shape == (2, 3)
    assert len(err) == 1 and "x.npz is damaged" in err[0] and "rebuilding it" in err[0], err
    cache.cached("x.npz", _build(calls), ARRAYS, cache.shape_check(ARRAYS))  # the rebuilt file is read back
    assert len(calls) == 2 and capsys.readouterr().err == ""


def test_a_cache_pt_file_holding_a_pickle_runs_no_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path))
    marker = tmp_path / "marker"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    with open(tmp_path / "x.pt", "wb") as handle:
        pickle.dump({"a": Payload()}, handle)
    calls: list[int] = []
    cache.cached("x.pt", _build(calls), ARRAYS)
    assert not marker.exists() and len(calls) == 1 and "rebuilding it" in capsys.readouterr().err


@pytest.mark.parametrize("place", ["{file}", "{file}/cache"])
def test_a_cache_folder_that_is_a_file_or_under_one_is_refused(tmp_path, monkeypatch, place):
    (tmp_path / "file").write_text("the user's own file\n")
    monkeypatch.setenv("INFOMIN_CACHE", place.format(file=tmp_path / "file"))
    with pytest.raises(InfominError, match=r"\$INFOMIN_CACHE .*file.* is a file"):
        embedded.load_arrays(SMALL)
    assert (tmp_path / "file").read_text() == "the user's own file\n"


def test_the_embedded_set_and_the_moving_mnist_banks_rebuild_a_damaged_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INFOMIN_CACHE", str(tmp_path))
    first = embedded.load_arrays(SMALL)
    [path] = tmp_path.glob("embedded-*.npz")
    _truncated(path)
    np.testing.assert_array_equal(embedded.load_arrays(SMALL)["images"], first["images"])
    assert "rebuilding it" in capsys.readouterr().err
    spec = moving_mnist.MovingMnistSpec(glyphs_train=20, glyphs_test=10, crops_per_photo=3)
    banks = moving_mnist.embedded_banks(spec)
    [path] = tmp_path.glob("moving-mnist-*.npz")
    np.savez(path, **{**banks, "digits_train": banks["digits_train"][:, :5]})  # readable, the wrong shape
    again = moving_mnist.embedded_banks(spec)
    assert again["digits_train"].shape == banks["digits_train"].shape
    assert "'digits_train' has shape" in capsys.readouterr().err
