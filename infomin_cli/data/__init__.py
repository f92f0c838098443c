"""Datasets: each module registers one loader; none of them downloads anything."""

from infomin_cli._autoload import import_submodules
from infomin_cli.data.base import DATASETS, Dataset, ImageSet

import_submodules(__name__)


def load_dataset(name: str, root=None, image_size: int | None = None) -> Dataset:
    return DATASETS.get(name)(root, image_size)


__all__ = ["DATASETS", "Dataset", "ImageSet", "load_dataset"]
