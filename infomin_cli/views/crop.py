"""Batched RandomResizedCrop + horizontal flip: per-sample boxes, one grid_sample for the batch.

Why not torchvision? `transforms.RandomResizedCrop` draws one box per call, so a batch needs a
Python loop (or, with transforms.v2 on a batched tensor, gets one box for every image). Here the
box distribution is torchvision's `RandomResizedCrop.get_params` exactly — ten attempts of
(area ~ U(scale) * H*W, log-aspect ~ U(log ratio)), the first attempt that fits wins, else the
central fallback crop — but all attempts of all samples are drawn as one (B, 10) tensor on the
batch's device, and every crop, resize and flip is one `affine_grid` + `grid_sample`.

Resampling is bilinear without antialiasing (grid_sample has none), so a crop shrunk by more than
about 2x aliases a little more than PIL's resize would; InfoMin-style crops are mostly enlarged.

Photos streamed from files are cropped at their original size instead (`OriginalCrops`): one photo
at a time with torchvision's antialiased `resized_crop` in the reader's worker processes, or a
whole batch of photos of different sizes at once with `cut_crops` (roi_align, adaptive sampling)
where the batch was decoded on the device. grid_sample on the same canvases was measured against
roi_align: twice the difference from the antialiased crop on photos (worst crop 3.0 against 1.1
grey levels), since it takes one sample per output pixel however much the box shrinks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import torch
import torch.nn.functional as F

ATTEMPTS = 10
IMAGENET_RATIO = (3.0 / 4.0, 4.0 / 3.0)
# float elements of one padded canvas handed to roi_align (256 MiB): a batch with a few very large
# photos is cut into several calls instead of padding every photo to the largest
CANVAS_ELEMENTS = 2**26


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

    def draw(self, height: int, width: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`boxes` as tensors: (K, 4) int64 boxes and (K,) bool flips, for `batched`."""
        drawn = self.boxes(height, width, generator)
        return torch.stack([box for box, _ in drawn]), torch.tensor([flip for _, flip in drawn])

    def batched(self, images: list[torch.Tensor], boxes: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """uint8 (C, H_i, W_i) photos of any sizes, their `draw`n boxes (N, K, 4) and flips (N, K) ->
        uint8 (N, K, C, S, S), laid out as `__call__` lays out one photo's crops."""
        return cut_crops(images, boxes, flips, self.sizes)

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


def cut_crops(images: list[torch.Tensor], boxes: torch.Tensor, flips: torch.Tensor,
              sizes: tuple[int, ...]) -> torch.Tensor:
    """Every photo's K crops at once: box k of photo n, resized to sizes[k], mirrored where flips[n, k].

    The photos (of different sizes, on one device) are padded into a few canvases, photos of similar
    size together, and each canvas goes through `torchvision.ops.roi_align` once per crop size:
    `aligned=True` puts a box's edges on pixel edges (a box at its own size is an exact copy), and
    adaptive sampling averages ceil(box / size) samples per output pixel and axis, a box filter that
    stands in for the antialiased resize of `resized_crop` (tests/test_views_crop.py bounds the
    difference on photos). The row and column past each photo repeat its last ones, so bilinear
    samples at a photo's bottom and right edges read the edge, as torchvision's resize does, not the
    padding. Out: uint8 (N, K, C, S, S), S = max(sizes), each crop in its top-left corner.
    """
    from torchvision.ops import roi_align

    device, channels = images[0].device, images[0].shape[0]
    side = max(sizes)
    out = torch.zeros(len(images), len(sizes), channels, side, side, dtype=torch.uint8, device=device)
    boxes, flips = boxes.to(device), flips.to(device)
    shapes = [tuple(image.shape[1:]) for image in images]
    by_size: dict[int, list[int]] = defaultdict(list)
    for k, size in enumerate(sizes):
        by_size[size].append(k)
    for members in _canvas_groups(shapes, channels):
        rows = max(shapes[i][0] for i in members) + 1
        cols = max(shapes[i][1] for i in members) + 1
        canvas = torch.zeros(len(members), channels, rows, cols, dtype=torch.uint8, device=device)
        for j, i in enumerate(members):  # one copy per photo; the resampling below is batched
            canvas[j, :, : shapes[i][0], : shapes[i][1]] = images[i]
        j = torch.arange(len(members), device=device)
        height = torch.tensor([shapes[i][0] for i in members], device=device)
        width = torch.tensor([shapes[i][1] for i in members], device=device)
        canvas[j, :, height, :] = canvas[j, :, height - 1, :]
        canvas[j, :, :, width] = canvas[j, :, :, width - 1]
        canvas = canvas.float()
        index = torch.tensor(members, device=device)
        for size, ks in by_size.items():
            chosen = boxes[index][:, ks].to(torch.float32)  # (n, k, 4): top, left, h, w
            top, left, h, w = chosen.unbind(-1)
            which = j[:, None].expand_as(top).to(torch.float32)
            rois = torch.stack([which, left, top, left + w, top + h], dim=-1).view(-1, 5)
            crops = roi_align(canvas, rois, size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
            crops = crops.view(len(members), len(ks), channels, size, size)
            mirror = flips[index][:, ks][..., None, None, None]
            crops = torch.where(mirror, crops.flip(-1), crops).round_().clamp_(0, 255).to(torch.uint8)
            out[index[:, None], torch.tensor(ks, device=device)[None, :], :, :size, :size] = crops
    return out


def _canvas_groups(shapes: list[tuple[int, int]], channels: int) -> Iterator[list[int]]:
    """Photos whose sides agree within a factor of about sqrt(2) share a canvas (so padding at most
    doubles its area); a canvas holds at most CANVAS_ELEMENTS values."""
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (h, w) in enumerate(shapes):
        buckets[(round(2 * math.log2(h)), round(2 * math.log2(w)))].append(i)
    for members in buckets.values():
        chunk: list[int] = []
        rows = cols = 0
        for i in members:
            h, w = shapes[i]
            if chunk and (len(chunk) + 1) * channels * max(rows, h + 1) * max(cols, w + 1) > CANVAS_ELEMENTS:
                yield chunk
                chunk, rows, cols = [], 0, 0
            chunk.append(i)
            rows, cols = max(rows, h + 1), max(cols, w + 1)
        yield chunk
