"""`python -m infomin_cli.sweep.worker POINT.json`: one sweep point in its own process (one per GPU).

The parent sets CUDA_VISIBLE_DEVICES, so inside the worker the point's device is simply `cuda`.
"""

from __future__ import annotations

import sys

from infomin_cli.sweep.runner import claim_and_run, point_from_file


def main(argv: list[str]) -> None:
    point, job = point_from_file(argv[0])
    row, note = claim_and_run(point, job, progress=False)
    print(f"{point.name}: i_nce {row.get('i_nce')} top1 {row.get('metric_value')} {note}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
