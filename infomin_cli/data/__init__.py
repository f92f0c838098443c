"""Datasets: each module registers one loader; none of them downloads anything."""

from infomin_cli._autoload import import_submodules
from infomin_cli.data.base import DATASETS, STREAMING, Dataset, ImageSet
from infomin_cli.errors import InfominError

import_submodules(__name__)


def load_dataset(name: str, root=None, image_size: int | None = None, stream: bool | None = None,
                 strict: bool = False, workers: int | None = None) -> Dataset:
    """`stream`: None chooses by size (folders only), True/False forces it; `strict`: an unreadable
    file is an error instead of being skipped; `workers`: decoding processes of a stream."""
    loader = DATASETS.get(name)
    if name in STREAMING:
        return loader(root, image_size, stream=stream, strict=strict, workers=workers)
    if stream:
        raise InfominError(f"dataset {name!r} is held in memory and cannot be streamed; --stream works for "
                           f"{', '.join(sorted(STREAMING))}")
    return loader(root, image_size)


__all__ = ["DATASETS", "Dataset", "ImageSet", "load_dataset"]
