"""Objectives: one `nn.Module` per method (infonce, moco, memory-bank), each registering itself."""

from infomin_cli._autoload import import_submodules
from infomin_cli.objectives.base import OBJECTIVES, Objective, Option, StepOutput
from infomin_cli.objectives.infonce import info_nce

import_submodules(__name__)

__all__ = ["OBJECTIVES", "Objective", "Option", "StepOutput", "info_nce"]
