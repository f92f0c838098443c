"""The InfoMin Aug. pipeline written with kornia.augmentation, for the library check in bench_views
and bench_gpu: the same steps, probabilities and ranges as views/infomin_aug.py (crop 0.2-1 + flip,
jitter (0.8, 0.8, 0.8, 0.2) p 0.8, grayscale p 0.2, blur 13 px sigma 0.1-2 p 0.5, RandAugment(2, 10),
ImageNet normalisation), batched with per-sample parameters as ours are.

kornia is an optional benchmark dependency: `pip install 'infomin[bench]'`.
"""

from __future__ import annotations

import torch
from torch import nn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def available() -> bool:
    try:
        import kornia  # noqa: F401
    except ImportError:
        return False
    return True


def infomin_pipeline(size: int, crop_scale: float = 0.2) -> nn.Module:
    import kornia.augmentation as K
    from kornia.augmentation.auto import RandAugment

    return nn.Sequential(
        K.RandomResizedCrop((size, size), scale=(crop_scale, 1.0), ratio=(3 / 4, 4 / 3)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((13, 13), (0.1, 2.0), p=0.5),
        RandAugment(n=2, m=10),
        K.Normalize(torch.tensor(MEAN), torch.tensor(STD)),
    )


def kornia_views(pipeline: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (B, C, H, W) -> two views, both halves of one 2B batch (as ours run)."""
    batch = images.shape[0]
    both = pipeline(torch.cat([images, images]).float() / 255.0)
    return both[:batch], both[batch:]
