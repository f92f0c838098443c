"""Is a Moving MNIST run that sits at loss = log K collapsed? For one batch of fresh training
sequences, the mean pairwise cosine of each view's embeddings (1: every sample maps to the same
point, so every logit is equal and the loss is exactly log K) and how large the part shared by the
whole batch is against the part that differs from sample to sample.

    OMP_NUM_THREADS=1 python docs/figures/moving_mnist_collapse.py RUN_FOLDER   # a trained run
    OMP_NUM_THREADS=1 python docs/figures/moving_mnist_collapse.py              # the preset at initialisation
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from infomin_cli.config import resolve_config
from infomin_cli.runs import build, load_run


def main(folder: str | None) -> None:
    torch.set_num_threads(1)
    if folder:
        run = load_run(folder, "cpu")
        model, views, data, seed = run.model, run.views, run.dataset, run.config.seed
    else:
        built = build(resolve_config("moving-mnist", {"seed": 0}, "embedded"))
        model, views, data, seed = built.model, built.views, built.dataset, 0
    generator = torch.Generator().manual_seed(seed)
    items = next(data.pretrain.epoch_batches(torch.arange(128), 128, "cpu", generator))
    v1, v2 = views(items, generator)
    model.train()  # batch statistics, as in training
    with torch.no_grad():
        for name, x, index in (("v1 (frames 1-10, LSTM)", v1, 0), ("v2 (one image, CNN)", v2, 1)):
            i = 0 if model.shared else index
            z = model.heads[i].body(model.encoders[i](x))  # before the L2 normalisation
            unit = F.normalize(z, dim=1)
            cos = (unit @ unit.T).fill_diagonal_(0).sum() / (len(z) * (len(z) - 1))
            common = z.mean(0).norm() / (z - z.mean(0)).norm(dim=1).mean()
            print(f"{name}: mean pairwise cosine {cos:.3f}, |batch mean| / mean |sample - batch mean| {common:.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
