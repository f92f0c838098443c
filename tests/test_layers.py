"""Layers run one way: the engine trains without estimators, plots draw without view code."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module, forbidden", [
    ("infomin_cli.engine.pretrain", "infomin_cli.mi"),
    ("infomin_cli.engine.run", "infomin_cli.mi"),
    ("infomin_cli.plots.curves", "infomin_cli.views"),
    ("infomin_cli.plots.reverse_u", "infomin_cli.views"),
    ("infomin_cli.plots.factors", "infomin_cli.views"),
])
def test_a_layer_does_not_import_what_runs_after_it(module, forbidden):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"{module} imports {out}"


def test_atomic_writes_live_outside_the_engine():
    import infomin_cli.atomic as atomic

    assert callable(atomic.atomic_write_text) and callable(atomic.atomic_torch_save)
