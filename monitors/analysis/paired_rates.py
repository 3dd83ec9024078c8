"""The difference of two paired rates against a margin: Tango's score test and interval.

Tango, T. (1998). Equivalence test and confidence interval for the difference in proportions for the
paired-sample design. Statistics in Medicine 17, 891-908. The score statistic at margin δ0 uses the
restricted maximum-likelihood estimate of the discordant cell under δ = δ0, so the variance never
collapses to zero (no zero-width interval when no pair is discordant), and inverting it gives the
interval recommended for paired rates by Fagerland, Lydersen & Laake (2014, Stat Med 33, 2850-2875).
At δ0 = 0 the statistic is McNemar's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

_EDGE = 1e-9


def tango_z_array(worse: np.ndarray, better: np.ndarray, n: int, delta0: float) -> np.ndarray:
    """Tango's score statistic for H0: δ = δ0, δ = (worse - better) / n (candidate minus baseline rate), for arrays
    of counts (the exact-size search evaluates it over every count at once)."""
    a = 2 * n
    b = -worse - better + (2 * n - worse + better) * delta0
    c = -better * delta0 * (1 - delta0)
    q = (np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)) - b) / (2 * a)
    variance = n * (2 * q + delta0 * (1 - delta0))
    numerator = worse - better - n * delta0
    # Both branches are evaluated: the ones np.where discards may divide by zero or multiply 0 by infinity.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.sqrt(variance)
        # No variance: the data sit on one side of δ0 for certain (or exactly on it).
        return np.where(variance > 0, z, np.where(numerator == 0, 0.0, np.sign(numerator) * np.inf))


def tango_z(worse: float, better: float, n: float, delta0: float) -> float:
    """Tango's score statistic for one count (see `tango_z_array`)."""
    return float(tango_z_array(np.asarray(worse, dtype=float), np.asarray(better, dtype=float), n, delta0))


def tango_interval(worse: int, better: int, n: int, alpha: float) -> tuple[float, float]:
    """Two-sided 1 - alpha interval of δ: every δ0 that a two-sided score test at alpha does not reject."""
    z = float(norm.ppf(1 - alpha / 2))
    return tango_bounds(worse, better, n, z, z)


def tango_bounds(worse: int, better: int, n: int, lower_critical: float,
                 upper_critical: float) -> tuple[float, float]:
    """The δ0 whose score statistic equals +`lower_critical` (the lower bound) and -`upper_critical` (the upper)."""
    estimate = (worse - better) / n
    low = -1.0 if estimate <= -1 else brentq(lambda d: tango_z(worse, better, n, d) - lower_critical, -1 + _EDGE,
                                             estimate)
    high = 1.0 if estimate >= 1 else brentq(lambda d: tango_z(worse, better, n, d) + upper_critical, estimate,
                                            1 - _EDGE)
    return float(low), float(high)


def p_above(worse: int, better: int, n: int, delta0: float) -> float:
    """One-sided p-value of H0: δ ≤ δ0 (small when the candidate is worse than the margin allows)."""
    return float(norm.sf(tango_z(worse, better, n, delta0)))


def p_below(worse: int, better: int, n: int, delta0: float) -> float:
    """One-sided p-value of H0: δ ≥ δ0 (small when the candidate is shown within the margin)."""
    return float(norm.cdf(tango_z(worse, better, n, delta0)))


@dataclass(frozen=True, slots=True)
class PairedCounts:
    """A paired binary outcome reduced to what the tests need."""

    n: int
    worse: int  # pairs where only the candidate has the event (refused, broke the format, ...)
    better: int  # pairs where only the baseline has it
    both: int = 0  # pairs where both have it

    @property
    def baseline_rate(self) -> float:
        """The baseline's own event rate."""
        return (self.better + self.both) / self.n if self.n else 0.0

    @property
    def candidate_rate(self) -> float:
        """The candidate's own event rate."""
        return (self.worse + self.both) / self.n if self.n else 0.0

    @property
    def effect(self) -> float:
        """Candidate minus baseline rate."""
        return (self.worse - self.better) / self.n if self.n else 0.0

    def pairs_needed(self, delta0: float, alpha: float, power: float = 0.8, max_n: int = 10**9) -> int | None:
        """Pairs at which the one-sided score test at `alpha` would settle δ against δ0 with probability `power`,
        if the observed cell proportions were the truth; None when δ sits on δ0 or no sample would do.

        Tango's statistic at the scaled counts grows like √n; the test rejects with probability ≈ `power` where it
        reaches z(1 - alpha) + z(power) (the usual shift approximation). Using the score statistic itself, whose
        variance is the restricted estimate at δ0, the figure stays right when no pair disagrees (there the
        per-pair variance under δ0 is δ0(1 - δ0), not zero).
        """
        if not self.n or abs(delta0 - self.effect) < 1e-12:
            return None
        target = float(norm.ppf(1 - alpha)) + float(norm.ppf(power))
        worse, better = self.worse / self.n, self.better / self.n

        def strength(n: int) -> float:
            return abs(tango_z(worse * n, better * n, n, delta0))  # type: ignore[arg-type]

        if strength(self.n) >= target:
            return self.n
        low, high = self.n, self.n
        while strength(high) < target:
            if high >= max_n:
                return None
            low, high = high, min(high * 2, max_n)
        while high - low > max(1, low // 200):
            middle = (low + high) // 2
            low, high = (low, middle) if strength(middle) >= target else (middle, high)
        return high
