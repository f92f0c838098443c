"""Can the supervised reference learn a factor at a longer budget? One (label, layer) model of the
Moving MNIST preset's supervised baseline, trained for EPOCHS over the 4,000 train sequences at
batch 32 (the preset's matching budget is 5 epochs = 620 steps; 20 epochs = 2,500 steps).

    OMP_NUM_THREADS=1 python docs/figures/moving_mnist_supervised_budget.py digit sequence 20

Prints one JSON line: the test metric (top-1 % for a class, mean error in px for the position).
"""

from __future__ import annotations

import json
import sys
import time

from infomin_cli.config import resolve_config
from infomin_cli.evaluate.factors import supervised_rows


def main(label: str, layer: str, epochs: int) -> None:
    config = resolve_config("moving-mnist", {"seed": 0}, "embedded")  # the preset the table's sweep runs
    started = time.perf_counter()
    row = supervised_rows(config, labels=(label,), layers=(layer,), epochs=epochs, device="auto")[0]
    print(json.dumps({"label": label, "layer": layer, "epochs": epochs, "metric": row["metric_value"],
                      "unit": row["unit"], "seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
