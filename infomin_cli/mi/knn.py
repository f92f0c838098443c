"""Kraskov-Stoegbauer-Grassberger k-NN MI estimator (KSG, algorithm 1), for low-dimensional vectors.

KSG needs no critic and no training, and in 1-2 dimensions it is nearly unbiased at moderate MI,
which makes it the reference the neural bounds are checked against there. It degrades with the
dimension (the k-NN distances stop resolving the density) and with the MI itself (it needs
samples on the order of exp(I)), hence the warning above `RELIABLE_DIM` total dimensions.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma
from sklearn.neighbors import KDTree, NearestNeighbors

from infomin_cli.mi.report import Estimate, mean_interval

RELIABLE_DIM = 6  # dim(x) + dim(y) above which KSG's bias is typically large (Gao et al. 2015)


class KSGReliabilityWarning(UserWarning):
    """KSG was asked to work where it is known to be badly biased."""


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def ksg_terms(x: np.ndarray, y: np.ndarray, k: int = 3) -> np.ndarray:
    """Per-sample KSG terms psi(k) + psi(N) - psi(n_x + 1) - psi(n_y + 1); their mean is the estimate.

    epsilon_i is the max-norm distance to the k-th neighbour in the joint space; n_x counts points
    strictly closer than epsilon_i in x alone (same for y), hence the radius nudged just below it.
    """
    x, y = _as_2d(x), _as_2d(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y need the same number of samples, got {n} and {len(y)}")
    if n <= k:
        raise ValueError(f"KSG with k={k} needs more than {k} samples, got {n}")
    joint = np.hstack([x, y])
    distances, _ = NearestNeighbors(n_neighbors=k + 1, metric="chebyshev").fit(joint).kneighbors(joint)
    radius = np.nextafter(distances[:, k], 0)  # strict inequality; column 0 is the point itself
    n_x = KDTree(x, metric="chebyshev").query_radius(x, radius, count_only=True) - 1
    n_y = KDTree(y, metric="chebyshev").query_radius(y, radius, count_only=True) - 1
    return digamma(k) + digamma(n) - digamma(n_x + 1) - digamma(n_y + 1)


def ksg(x: np.ndarray, y: np.ndarray, k: int = 3, true_mi: float | None = None) -> Estimate:
    """KSG estimate (nats) with a 95 % interval from the per-sample terms.

    The interval treats the terms as independent, which they are not quite (neighbours share
    counts), so read it as approximate. K is reported as N: the estimate has no log K ceiling.
    """
    x, y = _as_2d(x), _as_2d(y)
    dim = x.shape[1] + y.shape[1]
    note = f"k={k}, N={len(x)}"
    if dim > RELIABLE_DIM:
        message = (
            f"KSG on {dim} total dimensions is unreliable (biased low, more so at high MI); "
            f"trust it only up to about {RELIABLE_DIM} dimensions"
        )
        warnings.warn(message, KSGReliabilityWarning, stacklevel=2)
        note += f", unreliable: {dim} dims > {RELIABLE_DIM}"
    terms = ksg_terms(x, y, k)
    value, low, high = mean_interval(terms.tolist())
    return Estimate("ksg", value, low, high, len(x), len(x), None, "nats", true_mi, note)

