"""What an MI number is reported with: unit, K, log K, a 95 % interval, train/held-out, saturation.

The interval is a t-interval over independent held-out evaluation batches: batches are i.i.d.,
so this holds for every estimator, including the ones (DV, SMILE) that are a log of a mean and do
not split into independent per-sample terms. It measures evaluation noise for a fixed critic,
not the critic's training variance across seeds (the staircase benchmark reports that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from scipy import stats

NATS_PER_BIT = math.log(2.0)
SATURATION = 0.9


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of i.i.d. values (a single value gives a zero-width interval)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Estimate:
    """One MI estimate. `value` is the held-out estimate; `train_value` the same estimator on the
    critic's last training batches (the gap shows over-fitting). `bounded_by_log_k`: the estimator
    can never exceed log K (InfoNCE), so near log K its value says only "at least this much".
    `saturated` is such an estimate above 0.9 log K. Estimators without that ceiling (NWJ, DV,
    SMILE, KSG) are never flagged: their values above log K are estimates, noisy ones (their
    variance grows like exp(I), McAllester & Stratos 2020), and the interval reports that."""

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    K: int
    n_batches: int
    train_value: float | None = None
    unit: str = "nats"
    true_mi: float | None = None
    note: str = ""
    bounded_by_log_k: bool = False

    @property
    def log_k(self) -> float:
        scale = NATS_PER_BIT if self.unit == "bits" else 1.0
        return math.log(self.K) / scale

    @property
    def heldout_value(self) -> float:
        return self.value

    @property
    def saturated(self) -> bool:
        return self.bounded_by_log_k and self.value > SATURATION * self.log_k

    def to(self, unit: str) -> Estimate:
        """The same estimate in `unit` ('nats' or 'bits')."""
        if unit not in ("nats", "bits"):
            raise ValueError(f"unit must be nats or bits, got {unit!r}")
        if unit == self.unit:
            return self
        factor = 1 / NATS_PER_BIT if unit == "bits" else NATS_PER_BIT

        def conv(v: float | None) -> float | None:
            return None if v is None else v * factor

        return replace(
            self,
            value=self.value * factor,
            ci_low=self.ci_low * factor,
            ci_high=self.ci_high * factor,
            train_value=conv(self.train_value),
            true_mi=conv(self.true_mi),
            unit=unit,
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(log_k=self.log_k, heldout_value=self.heldout_value, saturated=self.saturated)
        return out


def from_batches(
    estimator: str,
    batch_values: Sequence[float],
    K: int,
    train_values: Sequence[float] = (),
    true_mi: float | None = None,
    note: str = "",
    *,
    bounded_by_log_k: bool,
) -> Estimate:
    """Summarise per-batch held-out values (nats) into an `Estimate`; non-finite values are kept
    (the estimate becomes nan/inf) rather than dropped, so a diverging estimator is visible."""
    value, low, high = mean_interval(list(batch_values))
    train = math.fsum(train_values) / len(train_values) if train_values else None
    return Estimate(estimator, value, low, high, K, len(batch_values), train, "nats", true_mi, note,
                    bounded_by_log_k)
