"""The Python API on the embedded data, small enough for a laptop CPU:
`python docs/api_example.py [FOLDER]` (default: a new temporary folder) writes every run and CSV there.

Each function is its command without the command line (`infomin pretrain`, `probe`, `sweep`,
`mi-estimate`): keyword arguments named as the flags, plain Python data back, `InfominError` (the
command's one line) on bad input. infomin_cli/api.py says more.
"""

import sys
import tempfile
from pathlib import Path

from infomin_cli import InfominError, estimate, pretrain, probe, sweep

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="infomin-api-"))
tiny = dict(dataset="embedded", views="lab-split", limit=2000, batch_size=64, epochs=1, knn_monitor=False, quiet=True)

# 1. pretrain: the summary of the run, as summary.json holds it
summary = pretrain(out=folder / "lab", **tiny)
print(f"pretrain  hash {summary['config_hash']}  I_NCE {summary['i_nce']:.2f} of log K {summary['log_K']:.2f}")

# 2. probe: one row per label, appended to the results CSV as `infomin probe` appends them
for row in probe(folder / "lab", label=["class", "background"], epochs=5, results=folder / "probe.csv"):
    print(f"probe     {row['probe_label']:<10} top-1 {row['metric_value']:.1f} %")

# 3. estimate: held-out I_NCE of the run against 512 held-out keys
(held_out,) = estimate(folder / "lab", negatives=512, eval_batches=4)
print(f"estimate  I_NCE {held_out['value']:.2f} nats, K = {held_out['K']}")

# 4. sweep: one row per point (pandas.DataFrame(rows) is the curve)
rows = sweep("crop-scale", [0.5, 1.0], **{**tiny, "views": "infomin-aug"}, probe_epochs=5,
             out=folder / "crop.csv", runs_dir=folder / "sweeps")
for row in rows:
    print(f"sweep     crop-scale {row['knob_value']}  I_NCE {row['i_nce']:.2f}  top-1 {row['metric_value']:.1f} %")

# 5. bad input: the command's one line, raised before anything is read or written
try:
    pretrain(out=folder / "bad", views="lab-splt")
except InfominError as error:
    print(f"refused   {error}")
