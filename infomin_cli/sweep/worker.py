"""`python -m infomin_cli.sweep.worker POINT.json`: one sweep point in its own process (one per GPU).

The parent sets CUDA_VISIBLE_DEVICES, so inside the worker the point's device is simply `cuda`.

`--pretrain-only POINT.json` is what a cluster job runs under torchrun (`--gpus-per-point N`):
every rank trains the point's run folder (runtime/distributed.py) and nothing else; the job that
started torchrun holds the point's lock and then measures, probes and appends the row.
"""

from __future__ import annotations

import sys

from infomin_cli.errors import InfominError
from infomin_cli.sweep.job import load_function, point_from_file
from infomin_cli.sweep.point import claim_and_run


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--pretrain-only":
        point, job = point_from_file(argv[1])
        try:
            load_function(job.pretrain)(point.config, point.run_dir, resume=True, progress=False)
        except InfominError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        return
    point, job = point_from_file(argv[0])
    row, note = claim_and_run(point, job, progress=False)
    print(f"{point.name}: i_nce {row.get('i_nce')} top1 {row.get('metric_value')} {note}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
