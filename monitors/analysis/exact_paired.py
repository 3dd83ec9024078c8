"""Exact size of Tango's one-sided score test for paired rates, and the critical value that holds its level.

At the levels a family-wise analysis decides at (α/m, a tenth of a percent or less), the normal approximation
behind Tango's test is off in the tail: with 1,000 to 2,000 pairs whose disagreements run mostly one way, the
lower bound misses 2-3 times as often as it says. The exact size at the boundary δ = δ0 is a sum over the number of
discordant pairs D ~ Binomial(n, ψ); given D, the candidate-only count W ~ Binomial(D, (ψ + δ0) / 2ψ), and the
test rejects when W reaches the smallest count whose score statistic clears the critical value. The size is the
largest such probability over the nuisance discordant share ψ in [|δ0|, 1] (the exact unconditional approach of
Berger & Boos 1994, JASA 89:1012, with Tango's statistic as the ordering, as Chan, Tang, Tang & Wong 2003 do for
paired non-inferiority, Stat Med 22:1235). Raising the critical value until that maximum is at most α gives a test
that holds its level exactly at this n; the verdict's single-look interval uses it at the tolerance, so the
decision the interval shows is that exact test's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.stats import binom, norm

from monitors.analysis.paired_rates import tango_z_array

# Nuisance values searched for the largest size (dense near |δ0|, where the size peaks for small margins).
_PSI_POINTS = 80


# Above this many pairs the normal approximation's tail error is small and the (n + 1)² grid too large to keep.
EXACT_MAX_N = 2500


@lru_cache(maxsize=2)
def _z_grid(n: int, delta0: float) -> np.ndarray:
    """Tango's statistic for every (D discordant, W candidate-only) with W <= D (NaN elsewhere), rows D."""
    w = np.arange(n + 1, dtype=float)[None, :]
    d = np.arange(n + 1, dtype=float)[:, None]
    with np.errstate(invalid="ignore"):
        z = tango_z_array(w, d - w, n, delta0)
    return np.where(w <= d, z, np.nan)


def _thresholds(n: int, delta0: float, critical: float, upper: bool) -> np.ndarray:
    """Per discordant count D = 0..n, the edge of the rejecting candidate-only counts: the first rejecting W for
    the upper test (D + 1 when none), the last for the lower test (-1 when none). z rises with W at fixed D, so the
    rejecting counts are a suffix (upper) or a prefix (lower) of 0..D."""
    z = _z_grid(n, delta0)
    with np.errstate(invalid="ignore"):
        hits = np.sum(z >= critical if upper else z <= -critical, axis=1)
    discordant = np.arange(n + 1)
    return (discordant + 1 - hits) if upper else (hits - 1)


def _psi_grid(delta0: float) -> np.ndarray:
    start = max(abs(delta0), 1e-6)
    return np.unique(np.concatenate([start + (1 - start) * np.linspace(0, 1, _PSI_POINTS) ** 3, [1.0]]))


def exact_size(n: int, delta0: float, critical: float, upper: bool = True) -> float:
    """The largest rejection probability at δ = δ0 over the nuisance discordant share (the test's exact size)."""
    edges = _thresholds(n, delta0, critical, upper)
    discordant = np.arange(n + 1)
    worst = 0.0
    for psi in _psi_grid(delta0):
        share = min(1.0, max(0.0, (psi + delta0) / (2 * psi)))
        weights = binom.pmf(discordant, n, psi)
        tail = binom.sf(edges - 1, discordant, share) if upper else binom.cdf(edges, discordant, share)
        worst = max(worst, float(np.sum(weights * tail)))
    return worst


@lru_cache(maxsize=512)
def corrected_critical(n: int, delta0: float, alpha: float, upper: bool = True) -> float:
    """The smallest critical value at or above the normal one whose exact size at δ0 is at most `alpha`."""
    nominal = float(norm.ppf(1 - alpha))
    if exact_size(n, delta0, nominal, upper) <= alpha:
        return nominal
    low, high = nominal, nominal + 1.0
    while exact_size(n, delta0, high, upper) > alpha:
        low, high = high, high + 1.0
    for _ in range(14):
        middle = (low + high) / 2
        low, high = (middle, high) if exact_size(n, delta0, middle, upper) > alpha else (low, middle)
    return high
