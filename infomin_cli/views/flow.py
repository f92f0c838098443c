"""The invertible view generator of paper B.5 (Figure 3): a stack of pixel-wise coupling blocks.

Each block splits the 3 channels into X1 (one channel) and X2 (the other two). F and G are
pixel-wise (1x1-conv) networks, so the generator is a per-pixel bijection of colour: it can re-mix channels
(what a colour-space conversion does) but not move information between pixels. Stacked blocks take
the first, second and third channel as X1 in turn, as the paper says, "to enhance the expressivity".

- VP (volume preserving, Figure 3a): additive coupling, Y1 = X1 + F(X2), Y2 = X2 + G(Y1).
  The Jacobian is triangular with unit diagonal, so log|det J| = 0 exactly.
- NVP (Figure 3b): affine coupling, Y1 = X1 * exp(s1(X2)) + t1(X2), Y2 = X2 * exp(s2(Y1)) + t2(Y1),
  with each log-scale bounded as SCALE_BOUND * tanh(.) so that no block can blow a channel up or
  squash it to zero (the unsupervised game would otherwise win by scaling a channel away).
  log|det J| = sum over pixels and channels of s1 + s2.

The last conv of every F and G starts at zero, so an untrained generator is the identity: epoch 0
of a view-learning run is exactly the colour-space split it starts from (R vs GB for --from rgb),
which makes the start of the trajectory a known point. (The authors' GenRep code starts from a
random coupling; ours is a choice, written down in docs/ARCHITECTURE.md.)

Only torch here: the views, the view-learning objective and the tests all import it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from infomin_cli.registry import Registry

HIDDEN = 16  # width of the pixel-wise F and G networks (memory-bound on CPU: cost grows with it)
SCALE_BOUND = 2.0  # NVP: |log scale| < 2 per block, a factor of at most e^2 either way
CHANNELS = 3
MAX_BLOCKS = 64  # coupling blocks a generator may have (the view learner's --blocks range)

GENERATORS = "generators"  # a view learner's folder keeps g here, one file per saved epoch
SNAPSHOT = re.compile(r"epoch-(\d+)\.pt")


def snapshot_path(folder: Path, epoch: int) -> Path:
    return Path(folder) / GENERATORS / f"epoch-{epoch:04d}.pt"


def saved_epochs(folder: Path) -> list[int]:
    """The epochs saved in a learner's folder; files of other names there (epoch-abc.pt, a user's
    copy) are none of ours and are left alone."""
    found = (SNAPSHOT.fullmatch(p.name) for p in (Path(folder) / GENERATORS).glob("epoch-*.pt"))
    epochs = {int(match[1]) for match in found if match}
    return sorted(e for e in epochs if snapshot_path(folder, e).is_file())  # the name we write (epoch-0005.pt)


COUPLINGS: Registry[str] = Registry("flow")
COUPLINGS.add("vp", "additive coupling, volume preserving (log-det 0), paper Figure 3a")
COUPLINGS.add("nvp", "affine coupling with a bounded scale, paper Figure 3b")


def pixelwise_net(c_in: int, c_out: int) -> nn.Sequential:
    """F or G: two pixel-wise linear maps (a 1x1 conv is exactly this) on channels-last pixels.

    Linear on (..., C) rather than nn.Conv2d(kernel 1): the same function, but CPU convolutions with
    1-3 channels run a slow path (measured: 4.3 s against 0.7 s forward for a 128 x 3 x 32 x 32 batch
    through 6 width-32 blocks, on a loaded 2-core box). The output layer starts at zero (the block
    starts as the identity)."""
    net = nn.Sequential(nn.Linear(c_in, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, c_out))
    nn.init.zeros_(net[2].weight)
    nn.init.zeros_(net[2].bias)
    return net


class CouplingBlock(nn.Module):
    """One block of Figure 3 with channel `first` as X1; `affine` selects NVP over VP.
    Works on channels-last pixels (B, H, W, 3)."""

    def __init__(self, first: int, affine: bool) -> None:
        super().__init__()
        self.first, self.affine = first, affine
        self.rest = [c for c in range(CHANNELS) if c != first]
        k = 2 if affine else 1  # NVP nets give a log-scale and a shift per output channel
        self.f = pixelwise_net(2, k * 1)  # X2 -> update of X1
        self.g = pixelwise_net(1, k * 2)  # Y1 -> update of X2

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[..., self.first : self.first + 1], x[..., self.rest]

    def _join(self, y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
        parts = [y2[..., :1], y2[..., 1:]]
        parts.insert(self.first, y1)
        return torch.cat(parts, dim=-1)

    def _scale_shift(self, net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = net(x).chunk(2, dim=-1)
        return SCALE_BOUND * torch.tanh(log_scale / SCALE_BOUND), shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, log|det J| per sample)."""
        x1, x2 = self._split(x)
        if not self.affine:
            y1 = x1 + self.f(x2)
            y2 = x2 + self.g(y1)
            return self._join(y1, y2), x.new_zeros(len(x))
        s1, t1 = self._scale_shift(self.f, x2)
        y1 = x1 * torch.exp(s1) + t1
        s2, t2 = self._scale_shift(self.g, y1)
        y2 = x2 * torch.exp(s2) + t2
        return self._join(y1, y2), s1.flatten(1).sum(1) + s2.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = self._split(y)
        if not self.affine:
            x2 = y2 - self.g(y1)
            x1 = y1 - self.f(x2)
            return self._join(x1, x2)
        s2, t2 = self._scale_shift(self.g, y1)
        x2 = (y2 - t2) * torch.exp(-s2)
        s1, t1 = self._scale_shift(self.f, x2)
        x1 = (y1 - t1) * torch.exp(-s1)
        return self._join(x1, x2)


class FlowGenerator(nn.Module):
    """g: a stack of `blocks` coupling blocks, X1 = channel 0, 1, 2, 0, ... in turn; (B, 3, H, W) in and out."""

    def __init__(self, flow: str = "vp", blocks: int = 3) -> None:
        super().__init__()
        COUPLINGS.get(flow)
        self.flow = flow
        self.blocks = nn.ModuleList([CouplingBlock(i % CHANNELS, affine=flow == "nvp") for i in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(x)[0]

    def transform(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(g(x), log|det dg/dx| per sample)."""
        h = x.permute(0, 2, 3, 1)
        log_det = x.new_zeros(len(x))
        for block in self.blocks:
            h, block_log_det = block(h)
            log_det = log_det + block_log_det
        return h.permute(0, 3, 1, 2).contiguous(), log_det

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        h = y.permute(0, 2, 3, 1)
        for block in reversed(self.blocks):
            h = block.inverse(h)
        return h.permute(0, 3, 1, 2).contiguous()
