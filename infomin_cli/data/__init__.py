"""Datasets: each module registers one loader; none of them downloads anything."""

from infomin_cli._autoload import import_submodules
from infomin_cli.data.base import DATASETS, Dataset, DatasetEntry, ImageSet, register_dataset
from infomin_cli.errors import InfominError

import_submodules(__name__)


def load_dataset(name: str, root=None, image_size: int | None = None, stream: bool | None = None,
                 strict: bool = False, workers: int | None = None) -> Dataset:
    """`stream`: None chooses by size (folders only), True/False forces it; `strict`: an unreadable
    file is an error instead of being skipped; `workers`: decoding processes of a stream."""
    entry = DATASETS.get(name)
    if entry.storage == "stream":
        return entry.load(root, image_size, stream=stream, strict=strict, workers=workers)
    if stream:
        streaming = [other for other, e in DATASETS.items() if e.storage == "stream"]
        raise InfominError(f"dataset {name!r} is held in memory and cannot be streamed; --stream works for "
                           f"{', '.join(streaming)}")
    return entry.load(root, image_size)


__all__ = ["DATASETS", "Dataset", "DatasetEntry", "ImageSet", "load_dataset", "register_dataset"]
