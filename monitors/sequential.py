"""Always-valid one-sided tests for the guard: looking every interval does not inflate false alarms.

Testing by betting (Waudby-Smith & Ramdas, 2023): for observations x_i in [-1, 1] and the null
"mean <= m", the capital K_t = prod(1 + lambda_i (x_i - m)) with predictable lambda_i >= 0 is a
non-negative supermartingale under the null, so by Ville's inequality P(sup_t K_t >= 1/alpha) <= alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class BettingTest:
    """Rejects "mean <= m" once the capital reaches 1/alpha; the rejection is then kept (latched)."""

    m: float
    alpha: float
    n: int = 0
    log_capital: float = 0.0
    rejected: bool = False
    _mean: float = 0.0
    _sq_dev: float = 0.25  # prior pseudo-variance, as in the paper's predictable plug-in
    values: list[float] = field(default_factory=list)

    def _bet(self) -> float:
        # aGRAPA: an approximate Kelly bet from past data only (predictable), so it grows the capital
        # about as fast as possible when the null is false and cannot under the null.
        variance = self._sq_dev / (self.n + 1)
        edge = self._mean - self.m if self.n else 0.0
        raw = edge / (variance + edge * edge) if edge > 0 else 0.0
        return min(max(raw, 0.0), 0.5 / (1 + self.m))

    def update(self, x: float) -> bool:
        """Add one observation; returns whether the null is rejected (now or before)."""
        if not -1.0 <= x <= 1.0:
            raise ValueError("observations must lie in [-1, 1]")
        self.log_capital += math.log1p(self._bet() * (x - self.m))
        self.n += 1
        self._sq_dev += (x - self._mean) ** 2
        self._mean += (x - self._mean) / self.n
        self.values.append(x)
        if self.log_capital >= math.log(1 / self.alpha):
            self.rejected = True
        return self.rejected

    @property
    def mean(self) -> float:
        """Running mean of the observations."""
        return self._mean


def anytime_lower_bound(values: list[float], alpha: float, tolerance: float = 1e-4) -> float:
    """Lower end of the one-sided confidence sequence for the mean: the largest m whose "mean <= m" was rejected.

    The same betting test as `BettingTest`, replayed for candidate m by bisection (rejection gets harder as m
    grows; the bets' running mean and variance do not depend on m, so each m is one vectorised pass). Valid at
    whatever time it is read, like the test itself.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return -1.0
    n = np.arange(x.size)
    sums = np.cumsum(x)
    prior_mean = np.concatenate(([0.0], sums[:-1] / n[1:]))
    # As in BettingTest: 0.25 prior pseudo-variance plus the squared deviations of the earlier observations.
    deviations = (x - prior_mean) ** 2
    variance = (0.25 + np.concatenate(([0.0], np.cumsum(deviations)[:-1]))) / (n + 1)
    threshold = math.log(1 / alpha)

    def rejected(m: float) -> bool:
        edge = np.where(n > 0, prior_mean - m, 0.0)
        raw = np.where(edge > 0, edge / (variance + edge * edge), 0.0)
        bets = np.clip(raw, 0.0, 0.5 / (1 + m))
        return bool(np.max(np.cumsum(np.log1p(bets * (x - m)))) >= threshold)

    low, high = -1.0 + 1e-9, float(x.max())
    if not rejected(low):
        return -1.0
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if rejected(middle) else (low, middle)
    return low
