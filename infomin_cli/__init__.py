"""infomin: views, contrastive training, I_NCE estimation and probes for the InfoMin experiments.

The Python API (`infomin_cli/api.py`): `from infomin_cli import pretrain, probe, sweep, estimate`.
Importing the package loads none of it (no torch, no pandas): each name is imported when it is
first asked for. `sweep` is the `infomin_cli.sweep` package itself, which calls `api.sweep`.
"""

from infomin_cli.errors import InfominError  # what bad input raises, with the CLI's line

__version__ = "0.1.0"
__all__ = ["pretrain", "probe", "sweep", "estimate", "InfominError", "__version__"]


def __getattr__(name: str) -> object:
    if name in ("pretrain", "probe", "estimate"):
        from infomin_cli import api

        return getattr(api, name)
    if name == "sweep":  # asked before anything imported the subpackage
        import infomin_cli.sweep

        return infomin_cli.sweep
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
