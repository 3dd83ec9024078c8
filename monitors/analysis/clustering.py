"""How much one user's pairs widen a paired rate's interval: the design effect, estimated from key groups.

Routing is sticky per key (a user), so one user's pairs share that user's prompts and habits and are not
independent. Rao & Scott (1992, "A simple method for the analysis of clustered binary data", Biometrics 48,
577-585): estimate the design effect D (the variance of the estimate under the clustered design over the variance
the independent-observation method assumes), divide every count by D, and run the independent-observation method
on the effective counts. quantgate does that for every paired rate, anytime and single look, with the same
interval methods as for independent pairs.

D is estimated from groups of keys (`flags.comparisons.key_group`): keys are drawn independently, so groups of
them are, and the cluster-robust (CR1) variance of the mean paired difference d = [candidate had the event] −
[baseline had it] over G groups is G/(G − 1) · Σ_g (D_g − δ̂ N_g)² / N² (the estimator statsmodels' OLS uses with
`cov_type="cluster"`, checked against it in a test), against Σ_i (d_i − δ̂)² / N² for independent pairs. D is never
taken below 1: per-request routing keeps the power of independent pairs. With fewer than `MIN_GROUPS` groups the
estimate is too noisy to lean on, and each group counts as one observation (D = N / G).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitors.analysis.paired_rates import PairedCounts

MIN_GROUPS = 10


@dataclass(frozen=True, slots=True)
class GroupedCounts:
    """A paired rate's counts per key group: only-candidate events, only-baseline events, pairs."""

    worse: np.ndarray
    better: np.ndarray
    n: np.ndarray

    @property
    def groups(self) -> int:
        """Groups holding at least one pair."""
        return int(np.count_nonzero(self.n))


def cluster_robust_variance(grouped: GroupedCounts) -> float:
    """CR1 variance of the mean paired difference over the groups (0 with fewer than two groups)."""
    total = float(grouped.n.sum())
    g = grouped.groups
    if g < 2 or not total:
        return 0.0
    diff = grouped.worse - grouped.better
    delta = float(diff.sum()) / total
    return g / (g - 1) * float(np.sum((diff - delta * grouped.n) ** 2)) / total**2


def independent_variance(grouped: GroupedCounts) -> float:
    """The variance of the mean paired difference if every pair were independent."""
    total = float(grouped.n.sum())
    if not total:
        return 0.0
    worse, better = float(grouped.worse.sum()) / total, float(grouped.better.sum()) / total
    return (worse + better - (worse - better) ** 2) / total


def design_effect(grouped: GroupedCounts) -> float:
    """D ≥ 1: how many times wider than for independent pairs the variance is (see the module docstring)."""
    total, g = float(grouped.n.sum()), grouped.groups
    if not total:
        return 1.0
    if g < MIN_GROUPS:
        return max(1.0, total / max(g, 1))
    naive = independent_variance(grouped)
    if naive <= 0:
        return 1.0  # no pair disagrees anywhere: nothing for clustering to inflate
    return max(1.0, cluster_robust_variance(grouped) / naive)


def effective_counts(counts: PairedCounts, effect: float) -> PairedCounts:
    """The counts divided by the design effect: what the independent-pair methods are run on (not integers)."""
    if effect <= 1:
        return counts
    return PairedCounts(counts.n / effect, counts.worse / effect, counts.better / effect,  # type: ignore[arg-type]
                        counts.both / effect)  # type: ignore[arg-type]


def indicator_effect(hits: np.ndarray, keys: np.ndarray) -> float:
    """Design effect of a share (the mean of `hits`) whose observations cluster by `keys` (one per observation)."""
    if not hits.size:
        return 1.0
    _, cluster = np.unique(keys, return_inverse=True)
    worse = np.bincount(cluster, weights=hits.astype(float))
    return design_effect(GroupedCounts(worse, np.zeros_like(worse), np.bincount(cluster).astype(float)))


def effective_ranks(n: int, effect: float, ranks: Callable[[int], tuple[int, int]]) -> tuple[int, int]:
    """Order-statistic ranks bounding a quantile when the n values cluster: the ranks for n / effect independent
    values (`ranks`), carried back to the whole sample outward (Woodruff's interval: the share at or below the
    quantile bounded with its design effect, then read off the sample's own order statistics)."""
    if effect <= 1:
        return ranks(n)
    small = max(1, int(n / effect))
    low, high = ranks(small)
    return int(math.floor(low * n / small)), min(n + 1, int(math.ceil(high * n / small)))
