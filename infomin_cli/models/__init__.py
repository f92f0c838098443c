"""Encoders, projection heads and the two-view contrastive model."""

from infomin_cli._autoload import import_submodules
from infomin_cli.models.base import ENCODERS, Encoder
from infomin_cli.models.contrastive import ContrastiveModel, build_model
from infomin_cli.models.heads import HEADS

import_submodules(__name__)

__all__ = ["ENCODERS", "HEADS", "ContrastiveModel", "Encoder", "build_model"]
