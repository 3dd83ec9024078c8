"""Medians against committed bounds as sign tests: the median is at least m exactly when at most half lie below m.

A sign test needs no symmetry (Wilcoxon's signed-rank test does, and a skewed similarity distribution
fooled it), keeps every pair (an empty answer's length ratio of 0 counts as below), and its
Clopper-Pearson interval of the share is exact (Conover, *Practical Nonparametric Statistics*, 3rd ed., §3.4).
"""

from __future__ import annotations

from statsmodels.stats.proportion import proportion_confint


def share_interval(count: int, n: int, alpha: float) -> tuple[float, float]:
    """Clopper-Pearson interval of a share at 1 - alpha ([0, 1] when there is nothing to count)."""
    if n == 0:
        return 0.0, 1.0
    low, high = proportion_confint(count, n, alpha=alpha, method="beta")
    return float(low), float(high)

