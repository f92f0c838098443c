"""How a run's forward passes are computed: bf16 autocast or plain fp32, chosen once per device.

`--precision` follows Lightning's Trainer: `bf16` is Lightning's `bf16-mixed` (autocast to bfloat16,
weights, gradients and optimiser state in fp32, no loss scaling: bf16 has fp32's exponent range),
`fp32` is its `32-true`; both Lightning spellings are accepted too. `auto` is bf16 on CUDA, where
tensor cores make it fast, and fp32 on any other device, so a CPU run at `auto` is bit-identical to
one at `fp32`. bf16 autocast works on the CPU as well: it is how the CPU tests run the code that
only CUDA's default path would otherwise run.

The choice is resolved against the device once (`resolve`), when a run is built or loaded, and the
resolved `Precision` is handed to whatever runs a model (objectives, probes, held-out estimates,
the k-NN monitor). It is not part of the config hash: it chooses how a run is computed, not what it
learns; summary.json records the resolved one.

Views are data preparation: they are computed in fp32 before a model's autocast region opens
(`full_precision` keeps them there even when a caller opened one around the whole step), and the
losses leave autocast themselves (`.float()` before the logits).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infomin_cli.options import Option

if TYPE_CHECKING:  # torch is imported where a region is opened: the CLI reads PRECISION without it
    import torch

CHOICES = ("auto", "bf16", "fp32")
ALIASES = {"bf16-mixed": "bf16", "32-true": "fp32"}  # Lightning's names for the same two
PRECISION = Option("precision", "auto", "auto (bf16 on CUDA, fp32 elsewhere), bf16 (bf16 autocast, also on the CPU) "
                   "or fp32; Lightning's bf16-mixed and 32-true are accepted.", choices=CHOICES)


@dataclass(frozen=True)
class Precision:
    """A resolved precision: `bf16` or `fp32`, never `auto`."""

    name: str

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The region a model's forward pass runs in on `device`: bf16 autocast, or nothing at all
        (fp32 opens no region, so its numbers are those of code that never heard of autocast)."""
        if self.name == "bf16":
            import torch

            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def __str__(self) -> str:
        return self.name


BF16, FP32 = Precision("bf16"), Precision("fp32")


def check_precision(name: str) -> str:
    """`auto`, `bf16` or `fp32` (Lightning's spellings mapped to ours); else one line naming the choices."""
    return PRECISION.check(ALIASES.get(name, name) if isinstance(name, str) else name)


def resolve(name: str, device: torch.device) -> Precision:
    """`auto` against the device the run computes on; `bf16` and `fp32` as asked, on any device."""
    name = check_precision(name)
    if name == "auto":
        return BF16 if device.type == "cuda" else FP32
    return BF16 if name == "bf16" else FP32


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """A region where autocast is off on `device`, whatever region encloses it: views, tiles and
    probe inputs are computed here, so they are the same numbers at every precision."""
    import torch

    return torch.autocast(device.type, enabled=False)
