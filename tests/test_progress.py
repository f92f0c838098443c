"""Long commands say what they are doing on stderr before their first bar, where bars would show."""

from __future__ import annotations

import sys

import pytest

from infomin_cli.cli import main
from infomin_cli.errors import InfominError


def _pretrain(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(["pretrain", "--dataset", "tiny", "--views", "lab-split", *args])
    return int(exited.value.code or 0), capsys.readouterr().err


def test_pretrain_says_loading_data_before_its_first_bar(capsys, monkeypatch, tmp_path):
    def train_run(config, out, resume=False, progress=True):
        print("FIRST BAR", file=sys.stderr)
        return {}

    monkeypatch.setattr("infomin_cli.pipeline.train_run", train_run)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal
    code, err = _pretrain(capsys, "--out", str(tmp_path / "run"))
    assert code == 0 and "loading data (tiny)…" in err and err.index("loading data") < err.index("FIRST BAR")
    assert "loading data" not in _pretrain(capsys, "--out", str(tmp_path / "run"), "--quiet")[1]
    monkeypatch.delenv("TTY_COMPATIBLE")
    monkeypatch.setenv("TTY_INTERACTIVE", "0")
    assert "loading data" not in _pretrain(capsys, "--out", str(tmp_path / "run"))[1]  # not a terminal


def test_an_error_after_loading_data_stands_alone_on_its_line(capsys, monkeypatch, tmp_path):
    def train_run(config, out, resume=False, progress=True):
        raise InfominError("the run folder holds another run")

    monkeypatch.setattr("infomin_cli.pipeline.train_run", train_run)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    code, err = _pretrain(capsys, "--out", str(tmp_path / "run"))
    shown = err.rsplit("\r\x1b[2K", 1)  # what the terminal shows: the announcement's line is blanked first
    assert code == 2 and len(shown) == 2 and shown[1] == "error: the run folder holds another run\n"
