"""Medians against committed bounds as sign tests: the median is at least m exactly when at most half lie below m.

A sign test needs no symmetry (Wilcoxon's signed-rank test does, and a skewed similarity distribution
fooled it), keeps every pair (an empty answer's length ratio of 0 counts as below), and its
Clopper-Pearson interval of the share is exact (Conover, *Practical Nonparametric Statistics*, 3rd ed., §3.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.stats.proportion import proportion_confint


@dataclass(frozen=True, slots=True)
class ShareBeyond:
    """The share of pairs beyond a bound, with its exact two-sided interval."""

    count: int
    n: int
    low: float
    high: float

    @property
    def share(self) -> float:
        """Observed share."""
        return self.count / self.n if self.n else 0.0


def share_beyond(beyond: np.ndarray, alpha: float) -> ShareBeyond:
    """Share of True in `beyond` and its Clopper-Pearson interval at 1 - alpha."""
    n, count = int(beyond.size), int(np.sum(beyond))
    if n == 0:
        return ShareBeyond(0, 0, 0.0, 1.0)
    low, high = proportion_confint(count, n, alpha=alpha, method="beta")
    return ShareBeyond(count, n, float(low), float(high))
