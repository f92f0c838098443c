"""Import every module of a package so that its registrations run.

Registries fill themselves as modules are imported; loading a package's modules by listing the
folder means a new view, dataset or command is one new file, with no central list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package_name: str) -> None:
    package = importlib.import_module(package_name)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
