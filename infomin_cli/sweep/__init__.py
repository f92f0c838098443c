"""Sweeps: one knob of one view family over a range of values, each point pretrain -> I_NCE -> probe.

The package is also the Python API's `sweep`: `from infomin_cli import sweep` gives this package,
and calling it, `sweep("crop-scale", "0.2,1.0", epochs=1)`, runs `infomin_cli.api.sweep` (the
function and the package share the name, and a submodule's import rebinds the package's name).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableSweep(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        from infomin_cli.api import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableSweep
