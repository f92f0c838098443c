"""Imports run one way: every module imports only its own layer and the layers below it.

The layers, lowest first, are declared once in `LAYERS`; `docs/ARCHITECTURE.md` draws the same
table. Every import of the package is read from the source (module level, inside functions, and
under `TYPE_CHECKING`), so a function-local import cannot hide an arrow that runs back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "infomin_cli"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

LAYERS: list[tuple[str, ...]] = [
    # foundations: names, errors, atomic writes, checked options and paths
    ("infomin_cli", "infomin_cli._autoload", "infomin_cli.errors", "infomin_cli.atomic", "infomin_cli.registry",
     "infomin_cli.progress", "infomin_cli.paths", "infomin_cli.ranges", "infomin_cli.options"),
    ("infomin_cli.config", "infomin_cli.run_files"),  # the run's settings and the one reader of its files
    ("infomin_cli.runtime",),  # device, precision, processes: below everything that computes
    ("infomin_cli.data",),
    ("infomin_cli.views",),
    ("infomin_cli.models",),
    ("infomin_cli.objectives",),
    ("infomin_cli.runs",),  # a config -> the objects of a run; a run folder back into them
    ("infomin_cli.mi",),
    ("infomin_cli.results",),
    ("infomin_cli.evaluate",),
    ("infomin_cli.engine", "infomin_cli.export"),
    ("infomin_cli.pipeline", "infomin_cli.estimation"),
    ("infomin_cli.sweep",),
    ("infomin_cli.plots",),
    ("infomin_cli.commands", "infomin_cli.cli", "infomin_cli.__main__", "infomin_cli.api"),
]
# The package's face: `from infomin_cli import pretrain` imports the Python API when first asked
# for (a module `__getattr__`, so `import infomin_cli` loads nothing), and the sweep package, which
# shares its name with the API's function, calls it. The only arrows that run up.
FACADE = {("infomin_cli", "infomin_cli.api"), ("infomin_cli", "infomin_cli.sweep"),
          ("infomin_cli.sweep", "infomin_cli.api")}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest declared prefix of `module`."""
    best, found = -1, None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), index
    if found is None:
        raise AssertionError(f"{module} is in no layer of LAYERS; add it there (and to docs/ARCHITECTURE.md)")
    return found


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the package in `source`, wherever it stands."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                package = module.split(".")[: len(module.split(".")) - node.level]
                base = ".".join([*package, *([base] if base else [])])
            if base.split(".")[0] != PACKAGE:
                continue
            # `from infomin_cli import x`: x may be a submodule, which is what is really imported
            out += [(node.lineno, f"{base}.{alias.name}" if base == PACKAGE else base) for alias in node.names]
    return out


def upward_imports(sources: dict[str, str]) -> list[str]:
    """Every import from a module to a module of a higher layer, as 'module:line -> imported'."""
    found = []
    for module, source in sorted(sources.items()):
        mine = layer_of(module)
        for line, imported in imports_of(source, module):
            if layer_of(imported) > mine and (module, imported) not in FACADE:
                found.append(f"{module}:{line} -> {imported}")
    return found


def package_sources() -> dict[str, str]:
    return {module_name(path): path.read_text() for path in sorted(ROOT.rglob("*.py"))}


def test_every_module_of_the_package_has_a_layer():
    for module in package_sources():
        layer_of(module)


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports(package_sources()) == []


def test_a_planted_upward_import_inside_a_function_is_found():
    sources = package_sources()
    planted = "infomin_cli.data.embedded"
    sources[planted] += "\n\ndef _late():\n    from infomin_cli.sweep.runner import run_sweep\n    return run_sweep\n"
    found = upward_imports(sources)
    assert len(found) == 1 and found[0].startswith(f"{planted}:") and found[0].endswith("-> infomin_cli.sweep.runner")


def test_a_planted_upward_import_under_type_checking_is_found():
    sources = package_sources()
    sources["infomin_cli.runtime.device"] += "\nif False:\n    from infomin_cli import engine\n"
    assert upward_imports(sources) == [f"infomin_cli.runtime.device:{sources['infomin_cli.runtime.device'].count(chr(10))}"
                                       " -> infomin_cli.engine"]
