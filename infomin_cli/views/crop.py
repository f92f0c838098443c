"""Batched RandomResizedCrop + horizontal flip: per-sample boxes, one grid_sample for the batch.

Why not torchvision? `transforms.RandomResizedCrop` draws one box per call, so a batch needs a
Python loop (or, with transforms.v2 on a batched tensor, gets one box for every image). Here the
box distribution is torchvision's `RandomResizedCrop.get_params` exactly — ten attempts of
(area ~ U(scale) * H*W, log-aspect ~ U(log ratio)), the first attempt that fits wins, else the
central fallback crop — but all attempts of all samples are drawn as one (B, 10) tensor on the
batch's device, and every crop, resize and flip is one `affine_grid` + `grid_sample`.

Resampling is bilinear without antialiasing (grid_sample has none), so a crop shrunk by more than
about 2x aliases a little more than PIL's resize would; InfoMin-style crops are mostly enlarged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ATTEMPTS = 10
IMAGENET_RATIO = (3.0 / 4.0, 4.0 / 3.0)


def sample_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    device: torch.device,
) -> torch.Tensor:
    """(B, 4) int64 boxes (top, left, h, w), distributed as torchvision's get_params."""
    area = height * width
    target_area = area * (
        scale[0]
        + (scale[1] - scale[0])
        * torch.rand(batch, ATTEMPTS, generator=generator, device=device, dtype=torch.float64)
    )
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(
        log_lo
        + (log_hi - log_lo)
        * torch.rand(batch, ATTEMPTS, generator=generator, device=device, dtype=torch.float64)
    )
    w = torch.round(torch.sqrt(target_area * aspect))
    h = torch.round(torch.sqrt(target_area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.int8).argmax(dim=1, keepdim=True)  # first attempt that fits (0 if none)
    w = w.gather(1, first).squeeze(1)
    h = h.gather(1, first).squeeze(1)
    any_fit = fits.any(dim=1)

    fallback_h, fallback_w = _central_fallback(height, width, ratio)
    h = torch.where(any_fit, h, torch.full_like(h, fallback_h))
    w = torch.where(any_fit, w, torch.full_like(w, fallback_w))
    u = torch.rand(batch, 2, generator=generator, device=device, dtype=torch.float64)
    top = torch.floor(u[:, 0] * (height - h + 1)).clamp_max(height - h)
    left = torch.floor(u[:, 1] * (width - w + 1)).clamp_max(width - w)
    top = torch.where(any_fit, top, (height - h) // 2)
    left = torch.where(any_fit, left, (width - w) // 2)
    return torch.stack([top, left, h, w], dim=1).long()


def _central_fallback(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    in_ratio = width / height
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return h, w


def crop_resize(
    images: torch.Tensor,
    boxes: torch.Tensor,
    size: int | tuple[int, int],
    flip: torch.Tensor | None = None,
    mode: str = "bilinear",
) -> torch.Tensor:
    """Float (B,C,H,W) -> (B,C,size,size): box b of image b, resized, mirrored where flip[b]."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    batch, _, height, width = images.shape
    boxes = boxes.to(images.dtype)
    top, left, h, w = boxes.unbind(1)
    # With align_corners=False, normalised x = -1 is the left edge of pixel 0 and +1 the right edge
    # of pixel W-1, so a box [left, left+w) maps to centre 2*(left + w/2)/W - 1 and half-width w/W.
    sx = w / width
    sy = h / height
    if flip is not None:
        sx = torch.where(flip, -sx, sx)
    theta = torch.zeros(batch, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = 2 * (left + w / 2) / width - 1
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = 2 * (top + h / 2) / height - 1
    grid = F.affine_grid(theta, [batch, images.shape[1], out_h, out_w], align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="border", align_corners=False)


def random_resized_crop(
    images: torch.Tensor,
    size: int,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = IMAGENET_RATIO,
    flip: bool = True,
) -> torch.Tensor:
    """Float (B,C,H,W) -> per-sample RandomResizedCrop(size, scale, ratio) + RandomHorizontalFlip."""
    batch, _, height, width = images.shape
    boxes = sample_boxes(batch, height, width, scale, ratio, generator, images.device)
    flips = torch.rand(batch, generator=generator, device=images.device) < 0.5 if flip else None
    return crop_resize(images, boxes, size, flips)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Deterministic whole-image resize for probes (antialiased when shrinking)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


class OriginalCrops:
    """RandomResizedCrop + flip drawn on one *original-size* image, for data streamed from files.

    The paper's crop (C.2's crop-scale sweep) takes its area from the original photo, with aspect
    in [3/4, 4/3]; a streamed dataset has photos of every size, so the boxes cannot be drawn on a
    stored square. A streaming source calls this in its worker processes, once per file, with a
    generator seeded from the run's generator: boxes come from `sample_boxes` (torchvision's
    get_params exactly), the crop is resized with antialiasing (as PIL's resize, which the
    torchvision pipeline uses). Crops of different sizes (the JigSaw crop is 3 cells wide) share
    one (K, C, S, S) tensor, S the largest, each in its top-left corner.
    """

    def __init__(self, sizes: tuple[int, ...], scales: tuple[tuple[float, float], ...],
                 ratio: tuple[float, float] = IMAGENET_RATIO, flip: bool = True) -> None:
        self.sizes, self.scales, self.ratio, self.flip = tuple(sizes), tuple(scales), ratio, flip

    @property
    def side(self) -> int:
        return max(self.sizes)

    def boxes(self, height: int, width: int, generator: torch.Generator) -> list[tuple[torch.Tensor, bool]]:
        """One (box, flip) per crop: the same draws, in the same order, that __call__ uses. Crops
        with the same scale (the two views) are drawn in one call, as rows of one batch."""
        out = []
        start = 0
        while start < len(self.scales):
            stop = start + 1
            while stop < len(self.scales) and self.scales[stop] == self.scales[start]:
                stop += 1
            boxes = sample_boxes(stop - start, height, width, self.scales[start], self.ratio, generator,
                                 torch.device("cpu"))
            flips = (torch.rand(stop - start, generator=generator) < 0.5).tolist() if self.flip else [False] * len(boxes)
            out += list(zip(boxes, flips, strict=True))
            start = stop
        return out

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 (C, H, W) at its original size -> uint8 (K, C, S, S)."""
        from torchvision.transforms.v2.functional import resized_crop

        channels, height, width = image.shape
        out = torch.zeros(len(self.sizes), channels, self.side, self.side, dtype=torch.uint8, device=image.device)
        for k, (size, (box, flip)) in enumerate(zip(self.sizes, self.boxes(height, width, generator), strict=True)):
            top, left, h, w = box.tolist()
            crop = resized_crop(image, top, left, h, w, [size, size], antialias=True)
            out[k, :, :size, :size] = crop.flip(-1) if flip else crop
        return out
