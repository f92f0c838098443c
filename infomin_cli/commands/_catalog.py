"""What the CLI knows of the registries before it imports them: each table's names, each method's
declared options and each dataset's labels.

`--help` lists the methods' options as flags, and a name typed on the command line is checked
against a table; neither needs more than names and declarations, but registering the entries
imports torch (views, models and objectives compute with it), about 2 s of a 3 s `--help` on a
2-core machine. So the catalog is read from the tables themselves where they are already imported
(a test that registers its own dataset sees it), else from a JSON copy in the cache folder
(`paths.cache_folder`), one file per installed package. The copy holds a key of the package's
version and its source files (path, size, modification time): an edit, a new file or an upgrade
changes the key, and a copy of another key, one that cannot be read or one of the wrong shape is
rebuilt from the tables, silently (importing them once, which the command then often needs anyway).
A cache folder that cannot be written costs only that rebuild, on every call.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import infomin_cli
from infomin_cli.atomic import atomic_write_text
from infomin_cli.options import Option
from infomin_cli.paths import cache_folder
from infomin_cli.registry import Registry, unknown

PACKAGE = Path(infomin_cli.__file__).resolve().parent
FORMAT = 2  # the layout of the JSON copy; a copy of another layout is rebuilt
# the catalog's name of each table -> (the module that fills it, its name there)
REGISTRIES: dict[str, tuple[str, str]] = {
    "views": ("infomin_cli.views", "VIEWS"),
    "datasets": ("infomin_cli.data", "DATASETS"),
    "encoders": ("infomin_cli.models", "ENCODERS"),
    "heads": ("infomin_cli.models", "HEADS"),
    "objectives": ("infomin_cli.objectives", "OBJECTIVES"),
    "probes": ("infomin_cli.evaluate.probes", "PROBES"),
}


@dataclass(frozen=True)
class Method:
    """What the CLI needs of an objective: its options, and the command that trains it (None: pretrain)."""

    options: tuple[Option, ...]
    command: str | None = None


def source_key(package: Path = PACKAGE) -> str:
    """Changes whenever a source file of the package is added, removed or edited, or its version changes."""
    digest = hashlib.sha256(f"{FORMAT} {infomin_cli.__version__}".encode())
    for path in sorted(package.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(package)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def catalog_file(package: Path = PACKAGE) -> Path:
    """One file per installed package, so that two installs sharing a cache do not rebuild each other's."""
    return cache_folder() / f"cli-catalog-{hashlib.sha256(str(package).encode()).hexdigest()[:12]}.json"


def _live(name: str) -> Registry[Any] | None:
    """The table itself, if its module is imported."""
    module_name, attribute = REGISTRIES[name]
    module = sys.modules.get(module_name)
    return getattr(module, attribute, None) if module is not None else None


def build() -> dict[str, Any]:
    """The catalog, read from the tables (importing them)."""
    tables = {name: getattr(importlib.import_module(module), attribute)
              for name, (module, attribute) in REGISTRIES.items()}
    return {
        "registries": {name: {"kind": table.kind, "names": table.names()} for name, table in tables.items()},
        "methods": {name: {"command": method.command, "options": [option.to_dict() for option in method.options]}
                    for name, method in tables["objectives"].items()},
        "labels": {name: _labels(entry) for name, entry in tables["datasets"].items()},
    }


def _labels(entry: Any) -> list[str]:
    """What a dataset entry declares it holds: its class labels, then its regression targets."""
    return [*entry.labels, *entry.targets]


def parse(data: Any) -> dict[str, Any]:
    """A catalog as `build` makes it, with the methods' options as `Option`s; TypeError, ValueError,
    KeyError or AttributeError for anything else."""
    registries = data["registries"]
    if set(registries) != set(REGISTRIES):
        raise ValueError("other tables")
    for table in registries.values():
        if not isinstance(table["kind"], str) or not all(isinstance(name, str) for name in table["names"]):
            raise TypeError("a table's kind and names are text")
    methods = {name: Method(tuple(Option.from_dict(option) for option in method["options"]), method["command"])
               for name, method in data["methods"].items()}
    if not all(isinstance(method.command, (str, type(None))) for method in methods.values()):
        raise TypeError("a method's command is text or null")
    labels = {name: list(held) for name, held in data["labels"].items()}
    if not all(isinstance(label, str) for held in labels.values() for label in held):
        raise TypeError("labels are text")
    return {"registries": registries, "methods": methods, "labels": labels}


def read(path: Path, key: str) -> dict[str, Any] | None:
    """The catalog in `path` if it is one of `key`, else None."""
    try:
        data = json.loads(path.read_text())
        if data["key"] != key:
            return None
        return parse(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # JSONDecodeError is a ValueError
        return None


def load(path: Path, key: str) -> dict[str, Any]:
    """The catalog of `key`: read from `path`, else built and written there (where it can be)."""
    found = read(path, key)
    if found is not None:
        return found
    built = build()
    try:
        atomic_write_text(path, json.dumps({"key": key, **built}))
    except OSError:  # a cache folder under a file, or not writable: the next call builds again
        pass
    return parse(built)


@functools.cache
def cached() -> dict[str, Any]:
    """This install's catalog, read once per process."""
    try:
        path = catalog_file()
    except RuntimeError:  # no $INFOMIN_CACHE and no home folder to hold the copy: built on every call
        return parse(build())
    return load(path, source_key())


def names(registry: str) -> list[str]:
    """The names of one table (`REGISTRIES`), sorted."""
    table = _live(registry)
    return table.names() if table is not None else list(cached()["registries"][registry]["names"])


def check(registry: str, name: object) -> None:
    """One line, as the table's own `get` says it, when `name` is not in the table."""
    if name not in names(registry):
        table = _live(registry)
        kind = table.kind if table is not None else cached()["registries"][registry]["kind"]
        raise unknown(kind, name, names(registry))


def methods() -> Mapping[str, Method]:
    """Every objective: its declared options and the command that trains it."""
    table = _live("objectives")
    if table is not None:
        return {name: Method(tuple(method.options), method.command) for name, method in table.items()}
    return cached()["methods"]


def labels(dataset: str) -> list[str]:
    """The labels and targets a registered dataset declares ([] for a name no entry has)."""
    table = _live("datasets")
    if table is not None:
        return _labels(table.get(dataset)) if dataset in table else []
    return list(cached()["labels"].get(dataset, []))


def check_names(config: Any) -> None:
    """The names a run's config gives, in the order `runs.validate` asks the tables for them, so a
    typo is the same line, before torch is imported (validate checks them again with the rest)."""
    check("views", config.views)
    check("heads", config.head)
    check("objectives", config.objective)
    if config.dataset is not None:  # None: the view family's default dataset
        check("datasets", config.dataset)
    check("encoders", config.encoder)
