"""`python -m infomin_cli.sweep.worker POINT.json`: one sweep point in its own process (one per GPU).

The parent sets CUDA_VISIBLE_DEVICES, so inside the worker the point's device is simply `cuda`.

`--pretrain-only POINT.json` is what a cluster job runs under torchrun (`--gpus-per-point N`):
every rank trains the point's run folder (runtime/distributed.py) and nothing else; the job that
started torchrun holds the point's lock and then measures, probes and appends the row.

The point file is read through its checked reader, and the functions it names are looked up in
the registries of `sweep/functions.py`; `--functions-from MODULE` (given by the starting process,
never read from the file) names a module whose import registers a function the job uses.
"""

from __future__ import annotations

import argparse
import sys

from infomin_cli.errors import InfominError
from infomin_cli.sweep.functions import PRETRAINS, import_registrations
from infomin_cli.sweep.job import read_point_file
from infomin_cli.sweep.point import claim_and_run


def command(point_file: str, modules: list[str], pretrain_only: bool = False) -> list[str]:
    """The arguments after `python -m infomin_cli.sweep.worker` for one point file."""
    return [arg for module in modules for arg in ("--functions-from", module)] + (
        ["--pretrain-only"] if pretrain_only else []) + [point_file]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m infomin_cli.sweep.worker")
    parser.add_argument("--functions-from", action="append", default=[], metavar="MODULE")
    parser.add_argument("--pretrain-only", action="store_true")
    parser.add_argument("point_file")
    args = parser.parse_args(argv)
    try:
        import_registrations(args.functions_from)
        point, job = read_point_file(args.point_file)
        if args.pretrain_only:
            PRETRAINS.get(job.pretrain)(point.config, point.run_dir, resume=True, progress=False)
            return
        row, note = claim_and_run(point, job, progress=False)
    except InfominError as exc:  # one line in the worker's log; the parent names the point and the log
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"{point.name}: i_nce {row.get('i_nce')} top1 {row.get('metric_value')} {note}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
