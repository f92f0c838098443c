"""Variational MI bounds, one function each, over a score matrix S[i, j] = f(x_i, y_j).

Conventions (shared by every function, so one critic serves all of them):
- `S` has shape (B, K) with B <= K: row i scores x_i against K candidates y_0..y_{K-1}; the
  positive (jointly drawn) pair is S[i, i]. Off-diagonal entries are draws from p(x)p(y).
- Every estimator is tight at the same critic, S = log p(x, y) / (p(x) p(y)) (InfoNCE and DV up to
  any per-row / global constant). For NWJ this means we use the parametrisation f = 1 + S, i.e.
  Poole et al.'s `nwj_lower_bound(scores)` is our `nwj(scores - 1)`.
- Each function returns the estimate for one batch as a 0-d tensor (differentiable, so it is also
  the training objective). Intervals are formed across held-out evaluation batches (`report.py`),
  which is valid for all four because batches are independent even where a bound does not split
  into independent per-sample terms (DV, SMILE: a log of a mean).

Values are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Estimator = Callable[[torch.Tensor], torch.Tensor]


def _check(scores: torch.Tensor) -> torch.Tensor:
    """Validate the shape and values; return the scores in float64.

    float64 because the matrix is small next to the critic, and because a float32 result cannot
    even represent log K without rounding it up (float32(log 256) > log 256).
    """
    if scores.ndim != 2 or scores.shape[0] > scores.shape[1] or scores.shape[1] < 2:
        raise ValueError(f"scores must be (B, K) with 2 <= K and B <= K, got {tuple(scores.shape)}")
    if not torch.isfinite(scores).all():
        # +inf on the diagonal would make InfoNCE inf - inf = nan; refusing is better than a silent clamp.
        raise ValueError("scores contain nan or inf; the critic diverged")
    return scores.double()


def _positives(scores: torch.Tensor) -> torch.Tensor:
    return scores.diagonal()[: scores.shape[0]]


def _off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    mask = torch.ones_like(scores, dtype=torch.bool)
    mask[torch.arange(scores.shape[0]), torch.arange(scores.shape[0])] = False
    return scores[mask]


def _log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(values, dim=0) - math.log(values.numel())


def infonce_rows(scores: torch.Tensor) -> torch.Tensor:
    """Per-row I_NCE terms, log K + S_ii - logsumexp_j S_ij; each is <= log K exactly.

    Written as log K - softplus(logsumexp_{j != i} (S_ij - S_ii)), which is the same number but
    keeps the ceiling in floating point too: softplus is never negative, whereas the direct form
    S_ii - logsumexp_j S_ij came out at +1e-11 for scores of size 1e6 (vectorised exp rounding).
    """
    scores = _check(scores)
    b = scores.shape[0]
    rows = torch.arange(b)
    others = (scores - _positives(scores).unsqueeze(1)).masked_fill(
        torch.zeros_like(scores, dtype=torch.bool).index_put_((rows, rows), torch.tensor(True)), -math.inf
    )
    return math.log(scores.shape[1]) - torch.nn.functional.softplus(torch.logsumexp(others, dim=1))


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """I_NCE = log K - L_NCE (van den Oord et al. 2018). A lower bound on I that can never exceed
    log K: with a perfect critic the loss goes to 0 and the estimate to log K, not to I. Low
    variance, but saturated whenever I >~ log K; invariant to adding any constant to a row."""
    return infonce_rows(scores).mean()


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """I_NWJ = 1 + E_p[S] - E_{p(x)p(y)}[exp S] (Nguyen, Wainwright & Jordan 2010, f = 1 + S).

    Unbiased for a fixed critic (both terms are plain sample means), and tight at the true log
    density ratio. Its variance is the catch: the second term averages exp(S) over negatives,
    and exp(log-ratio) under p(x)p(y) has variance that grows like exp(I), so at high MI single
    batches are dominated by rare huge terms (Song & Ermon 2020).
    """
    scores = _check(scores)
    return 1.0 + _positives(scores).mean() - torch.exp(_log_mean_exp(_off_diagonal(scores)))


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker-Varadhan / MINE value: E_p[S] - log E_{p(x)p(y)}[exp S] (Belghazi et al. 2018).

    Tighter than NWJ for a given critic, but the log of a sample mean makes a single batch a
    biased estimate of the bound (the bias MINE's moving average tries to correct in training)
    and shares NWJ's exp(I) variance in the partition term.
    """
    scores = _check(scores)
    return _positives(scores).mean() - _log_mean_exp(_off_diagonal(scores))


def smile(scores: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
    """SMILE (Song & Ermon 2020): DV with the partition term computed on clip(S, -tau, tau).

    Clipping caps the exp(I) variance of the partition term, at the price of bias: for tau < inf
    SMILE is **not** a lower bound (it can overestimate), and it is biased upwards once the true
    log-ratio often exceeds tau, i.e. at high MI. Train its critic with `smile_training_loss`.
    """
    scores = _check(scores)
    clipped = scores.clamp(-clip, clip)
    return _positives(scores).mean() - _log_mean_exp(_off_diagonal(clipped))


def js_fgan(scores: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon f-GAN lower bound on the JS divergence; not an MI estimate.

    Used only as SMILE's training signal: its optimum is the log density ratio (no per-row
    constant), which is what the DV/SMILE partition term needs, with low-variance gradients.
    """
    scores = _check(scores)
    softplus = torch.nn.functional.softplus
    return -softplus(-_positives(scores)).mean() - softplus(_off_diagonal(scores)).mean()


def smile_training_loss(scores: torch.Tensor, clip: float = 5.0) -> torch.Tensor:
    """Value of -SMILE, gradient of -JS (the trick in the SMILE reference code)."""
    js = js_fgan(scores)
    return -(js + (smile(scores, clip) - js).detach())


class MineLoss:
    """DV trained with MINE's moving-average correction of the partition-term gradient.

    The naive gradient of log mean exp(S) over one batch is biased; MINE replaces the batch mean
    in the denominator by an exponential moving average. The returned value is still -DV.
    """

    def __init__(self, decay: float = 0.99) -> None:
        self.decay = decay
        self.running: torch.Tensor | None = None

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        value = dv(scores)
        scores = scores.double()
        mean_exp = torch.exp(_log_mean_exp(_off_diagonal(scores)))
        current = mean_exp.detach()
        self.running = current if self.running is None else self.decay * self.running + (1 - self.decay) * current
        # d/dS log(mean_exp) = d mean_exp / mean_exp; MINE divides by the running mean instead
        surrogate = _positives(scores).mean() - mean_exp / self.running
        return -(value.detach() + surrogate - surrogate.detach())


ESTIMATORS: dict[str, Estimator] = {"infonce": infonce, "nwj": nwj, "smile": smile, "dv": dv}
"""Score-matrix estimators by CLI name (`ksg` is the non-parametric one, in `knn.py`)."""

BOUNDED_BY_LOG_K = frozenset({"infonce"})
"""The estimators whose value can never exceed log K (each docstring above says why or why not);
only these can be saturated (`report.Estimate.saturated`)."""


def training_loss(name: str, clip: float = 5.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The loss to minimise when training a critic for estimator `name`."""
    if name == "infonce":
        return lambda s: -infonce(s)
    if name == "nwj":
        return lambda s: -nwj(s)
    if name == "smile":
        return lambda s: smile_training_loss(s, clip)
    if name == "dv":
        return MineLoss()
    raise ValueError(f"no training loss for estimator {name!r}")
