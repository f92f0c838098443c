"""CIFAR-10 is read from the python pickle batches and resized to 64 px, as the paper evaluates it."""

import pickle

import numpy as np
import pytest

from infomin_cli.data import load_dataset
from infomin_cli.errors import InfominError


def write_cifar(folder, n=5):
    folder = folder / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"labels": list(range(n))}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)


def test_cifar10_loads_all_batches_resized_to_64(tmp_path):
    write_cifar(tmp_path)
    data = load_dataset("cifar10", tmp_path)
    assert data.train.images.shape == (25, 3, 64, 64)
    assert data.test.images.shape == (5, 3, 64, 64)
    assert data.train.labels["class"][:5].tolist() == [0, 1, 2, 3, 4]


def test_cifar10_constant_image_stays_constant_after_resize(tmp_path):
    write_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": np.full((2, 3072), 77, dtype=np.uint8), b"labels": [1, 2]}, handle)
    data = load_dataset("cifar10", tmp_path)
    assert int(data.test.images.min()) == int(data.test.images.max()) == 77


def test_cifar10_malformed_batch_is_one_line(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(InfominError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)


def test_a_batch_as_python_2_pickled_it_loads(tmp_path):
    """The real files name numpy.core.multiarray (numpy 1's place) at protocol 2; the guarded reader
    resolves that name as pickle would."""
    write_cifar(tmp_path)
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [3, 1],
             b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), b"filenames": [b"a.png", b"b.png"]}
    blob = pickle.dumps(batch, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in blob
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    data = load_dataset("cifar10", tmp_path, 32)
    assert data.test.labels["class"].tolist() == [3, 1]
    assert data.test.images.reshape(2, -1).tolist() == batch[b"data"].tolist()


class _Payload:
    """What a crafted batch holds: unpickling it would call a builtin that writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.mark.parametrize("where", ["data", "labels", "top"])
def test_a_crafted_batch_runs_no_code_and_is_one_line(tmp_path, capsys, where):
    from infomin_cli.cli import main

    write_cifar(tmp_path)
    marker = tmp_path / "marker"
    payload = _Payload(marker)
    batch = payload if where == "top" else {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], where.encode(): payload}
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as handle:
        pickle.dump(batch, handle)
    with pytest.raises(SystemExit) as exited:
        main(["datasets", "show", "cifar10", "--data-root", str(tmp_path), "--out", str(tmp_path / "s.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1, err
    assert "data_batch_1" in err[0] and "builtins.exec" in err[0] and "nothing in it was run" in err[0]
    assert not marker.exists() and not (tmp_path / "s.png").exists()
