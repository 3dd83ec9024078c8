"""The p95 change of a window's pairs with its interval: each arm's p95 from order statistics, combined.

Each arm's p95 is bounded at half the level per side (Bonferroni over the arms, as `stats.paired_p95_change`), by
the order statistics whose ranks bound the binomial count at or below the quantile: from a confidence sequence when
read at any time, from the binomial for one look. A timed-out shadow's latency is censored at the time waited: it
counts as itself for the lower bound and as infinite for the upper. Where one user's pairs cluster the ranks allow
for the design effect (`clustering.effective_ranks`, Woodruff's interval).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from monitors.analysis import confidence_sequences as cs
from monitors.analysis.clustering import effective_ranks
from monitors.analysis.stats import Estimate, paired_p95_change, quantile_interval
from monitors.analysis.window_data import CategoryWindow


def _binomial_ranks(n: int, alpha_each_side: float) -> tuple[int, int]:
    return int(binom.ppf(alpha_each_side, n, 0.95)), int(binom.ppf(1 - alpha_each_side, n, 0.95)) + 1


def _clustered_p95_bounds(sample: np.ndarray, alpha_each_side: float, anytime: bool,
                          design: float) -> tuple[float, float]:
    """p95 bounds from order statistics whose ranks allow for the design effect."""
    ordered = np.sort(sample)
    ranks = ((lambda m: cs.quantile_ranks(m, 0.95, alpha_each_side)) if anytime
             else (lambda m: _binomial_ranks(m, alpha_each_side)))
    low_rank, high_rank = effective_ranks(ordered.size, design, ranks)
    low = float(ordered[low_rank - 1]) if low_rank >= 1 else 0.0
    return low, float(ordered[high_rank - 1]) if high_rank <= ordered.size else math.inf


def censored_p95_bounds(values: np.ndarray, censored: np.ndarray, alpha_each_side: float, anytime: bool,
                        design: float = 1.0) -> tuple[float, float]:
    """p95 bounds of one arm, each one-sided at `alpha_each_side`, censored values as described above."""
    def bounds(sample: np.ndarray) -> tuple[float, float]:
        if design > 1:
            return _clustered_p95_bounds(sample, alpha_each_side, anytime, design)
        if anytime:
            return cs.quantile_bounds(sample, 0.95, alpha_each_side)
        return quantile_interval(sample, 0.95, 2 * alpha_each_side)

    low, high = bounds(values)
    if censored.any():
        high = bounds(np.where(censored, np.finfo(float).max, values))[1]
        high = math.inf if high >= np.finfo(float).max else high
    return low, high


def p95_change(window: CategoryWindow, side: float, anytime: bool, times: str) -> tuple[Estimate, int]:
    """The candidate's p95 of `times` ("ttft" or "total") over the baseline's, minus 1, with bounds one-sided at
    `side`; and how many timed pairs it used."""
    base, cand = getattr(window, f"baseline_{times}"), getattr(window, f"candidate_{times}")
    keep = (base > 0) & (cand > 0)
    base, cand = base[keep], cand[keep]
    no_mask = np.zeros(keep.size, dtype=bool)
    base_mask, cand_mask = getattr(window, f"baseline_{times}_censored"), getattr(window, f"candidate_{times}_censored")
    base_censored = (base_mask if base_mask.size else no_mask)[keep]
    cand_censored = (cand_mask if cand_mask.size else no_mask)[keep]
    if not base.size:
        return paired_p95_change(base, cand, 2 * side), 0
    effects = window.sample_effects
    low_b, high_b = censored_p95_bounds(base, base_censored, side / 2, anytime, effects.get(f"baseline_{times}", 1.0))
    low_c, high_c = censored_p95_bounds(cand, cand_censored, side / 2, anytime,
                                        effects.get(f"candidate_{times}", 1.0))
    low = low_c / high_b - 1 if math.isfinite(high_b) else -1.0
    high = high_c / low_b - 1 if low_b > 0 else math.inf
    p95_b, p95_c = float(np.percentile(base, 95)), float(np.percentile(cand, 95))
    return Estimate(int(base.size), p95_c / p95_b - 1, low, high, 1.0, p95_b, p95_c), int(base.size)
