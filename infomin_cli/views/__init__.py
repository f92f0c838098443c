"""View families: each module registers one family (or a few closely related ones)."""

from infomin_cli._autoload import import_submodules
from infomin_cli.config import parse_knob_args
from infomin_cli.views.base import VIEWS, Knob, ViewFamily, ViewPair, register_family

import_submodules(__name__)

__all__ = ["VIEWS", "Knob", "ViewFamily", "ViewPair", "parse_knob_args", "register_family"]
