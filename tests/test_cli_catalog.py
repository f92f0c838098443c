"""The CLI's catalog of the registries (commands/_catalog.py), and what it buys: a CLI that starts,
answers `--help` and refuses a mistyped name without importing torch, pandas or matplotlib. The
times themselves are measured in benchmarks/bench_cli.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from infomin_cli.cli import app
from infomin_cli.commands import _catalog
from infomin_cli.commands._options import PANELS, TRAINING_OPTIONS
from infomin_cli.data import DATASETS
from infomin_cli.evaluate.probes import PROBES
from infomin_cli.objectives import OBJECTIVES

HEAVY = ("torch", "pandas", "matplotlib")


def live_tables() -> dict[str, object]:
    return {name: getattr(sys.modules[module], attribute) for name, (module, attribute) in _catalog.REGISTRIES.items()}


def assert_is_the_registries(catalog: dict) -> None:
    for name, table in live_tables().items():
        assert catalog["registries"][name] == {"kind": table.kind, "names": table.names()}, name
    assert catalog["methods"] == {name: _catalog.Method(method.options, method.command)
                                  for name, method in OBJECTIVES.items()}
    assert catalog["labels"] == {name: [*entry.labels, *entry.targets] for name, entry in DATASETS.items()}


def test_the_catalog_written_to_the_cache_holds_what_the_registries_hold(tmp_path):
    path = tmp_path / "catalog.json"
    _catalog.load(path, "key")
    assert_is_the_registries(_catalog.read(path, "key"))


def test_every_declared_option_comes_back_from_json_as_declared():
    declared = [option for _, owner in (*OBJECTIVES.items(), *PROBES.items()) for option in owner.options]
    assert declared
    for option in declared:
        assert type(option).from_dict(json.loads(json.dumps(option.to_dict()))) == option


def test_a_catalog_of_another_key_is_rebuilt(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"key": "old", "registries": {}, "methods": {}}))
    assert_is_the_registries(_catalog.load(path, "new"))
    assert json.loads(path.read_text())["key"] == "new"


@pytest.mark.parametrize("damage", [b"", b"\x00\xff garbage", b'{"key": "k"}', b'{"key": "k", "registries": [1]}',
                                    b"[]", b'{"key": "k", "registries": {}, "methods": {"moco": {"options": [1]}}}'])
def test_a_damaged_catalog_is_rebuilt_without_a_word(tmp_path, capsys, damage):
    path = tmp_path / "catalog.json"
    path.write_bytes(damage)
    assert_is_the_registries(_catalog.load(path, "k"))
    assert _catalog.read(path, "k") is not None
    assert capsys.readouterr() == ("", "")


def test_a_cache_folder_that_cannot_be_written_costs_only_the_rebuild(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    assert_is_the_registries(_catalog.load(tmp_path / "file" / "catalog.json", "k"))


def test_the_key_follows_every_edit_and_new_file_of_the_package(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = _catalog.source_key(tmp_path)
    assert _catalog.source_key(tmp_path) == first
    (tmp_path / "a.py").write_text("x = 12\n")
    edited = _catalog.source_key(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("")
    assert len({first, edited, _catalog.source_key(tmp_path)}) == 3


def test_a_name_missing_from_the_catalog_is_the_registrys_own_line():
    with pytest.raises(Exception) as from_catalog:
        _catalog.check("views", "nosuch")
    with pytest.raises(Exception) as from_registry:
        live_tables()["views"].get("nosuch")
    assert str(from_catalog.value) == str(from_registry.value)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder holding this install's catalog (built once, in a process of its own)."""
    folder = tmp_path_factory.mktemp("warm-cache")
    warm = "from infomin_cli.commands import _catalog; _catalog.load(_catalog.catalog_file(), _catalog.source_key())"
    subprocess.run([sys.executable, "-c", warm], env={**os.environ, "INFOMIN_CACHE": str(folder)}, check=True)
    return folder


def heavy_modules_after(code: str, cache) -> list[str]:
    """The heavy modules a fresh interpreter holds after `code`, with this install's catalog in `cache`."""
    env = {**os.environ, "INFOMIN_CACHE": str(cache)}
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             f"print('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[-1].split()[1:]


def test_starting_the_cli_imports_neither_torch_nor_pandas_nor_matplotlib(warm_cache):
    assert heavy_modules_after("import infomin_cli.cli", warm_cache) == []


@pytest.mark.parametrize("argv", [["--help"], ["pretrain", "--help"], ["pretrain", "--views", "nosuch"],
                                  ["pretrain", "--objective", "nosuch"], ["pretrain", "--preset", "nosuch"],
                                  ["learn-views", "--dataset", "nosuch"], ["probe", "x", "--task", "nosuch"],
                                  ["sweep", "crop-scale", "0.5", "--views", "nosuch"],
                                  ["views", "show", "nosuch"], ["datasets", "show", "nosuch"],
                                  ["mi-estimate", "--views", "nosuch"]])
def test_help_and_a_mistyped_name_are_answered_before_torch_loads(warm_cache, argv):
    assert heavy_modules_after(f"from infomin_cli.cli import main; main({argv!r})", warm_cache) == []


def test_a_mistyped_probe_label_is_answered_before_torch_loads(tmp_path, warm_cache):
    from infomin_cli.config import RunConfig

    run = tmp_path / "run"
    run.mkdir()
    RunConfig(dataset="embedded").save(run / "config.yaml")  # the label check reads no checkpoint
    argv = ["probe", str(run), "--label", "nosuch", "--results", str(tmp_path / "r.csv")]
    assert heavy_modules_after(f"from infomin_cli.cli import main; main({argv!r})", warm_cache) == []


def panels_of(text: str) -> dict[str, str]:
    """Rich help's boxes: title -> the box's text."""
    out, title = {}, None
    for line in text.splitlines():
        if line.startswith("╭─ "):
            title = line[3:].split(" ─")[0].strip()
            out[title] = ""
        elif title is not None:
            out[title] += line + "\n"
    return out


def test_pretrain_help_groups_its_options_into_panels_and_shows_their_defaults():
    result = CliRunner().invoke(app, ["pretrain", "--help"], terminal_width=250)
    assert result.exit_code == 0, result.output
    panels = panels_of(result.output)
    assert [title for title in panels if title != "Options"] == ["Data", "Model", "Objective", "Optimisation", "Run"]
    assert "--views" in panels["Data"] and "--encoder" in panels["Model"] and "--lr" in panels["Optimisation"]
    assert "--queue" in panels["Objective"] and "--seed" in panels["Run"]  # a method's option: its declarer's panel
    assert "[default: (30)]" in panels["Optimisation"] and "[default: (lab-split)]" in panels["Data"]


def test_every_general_training_option_has_a_panel():
    placed = [name for names in PANELS.values() for name in names]
    assert sorted(placed) == sorted(TRAINING_OPTIONS)


def test_sweep_help_shows_its_own_panels_before_the_training_options():
    result = CliRunner().invoke(app, ["sweep", "--help"], terminal_width=250)
    assert result.exit_code == 0, result.output
    panels = panels_of(result.output)
    assert list(panels)[-5:] == ["Data", "Model", "Objective", "Optimisation", "Run"]
    assert "--slurm-partition" in panels["Cluster"] and "--probe-task" in panels["Probe"]
