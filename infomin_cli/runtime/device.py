"""Pick the device once, and seed generators on it (its precision: runtime/precision.py)."""

from __future__ import annotations

import torch

from infomin_cli.errors import InfominError


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; an explicit 'cuda' without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InfominError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InfominError(f"--device {name} asked for, but no CUDA GPU is visible; use --device cpu or auto")
    return device


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
