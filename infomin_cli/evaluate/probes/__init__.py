"""Probe tasks: each module registers one task (what it reads, its options, its rows, when a sweep has them)."""

from infomin_cli._autoload import import_submodules
from infomin_cli.evaluate.probes.base import PROBES, ProbeAsk, ProbeTask, RowKey, default_task, register_probe

import_submodules(__name__)

__all__ = ["PROBES", "ProbeAsk", "ProbeTask", "RowKey", "default_task", "register_probe"]
