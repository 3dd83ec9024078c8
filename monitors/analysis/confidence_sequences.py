"""Anytime-valid confidence sequences for what the report and `/admin/verdicts` show as pairs accrue.

Diversified Kelly betting (Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by
betting", JRSSB 86:1, §5.5): for observations in [-1, 1] and a candidate mean m, each fixed bet λ on
"x - m" gives the test martingale prod(1 + λ (x_i - m)); their average over a fixed grid of bets is one
too. Ville's inequality bounds the chance that it ever reaches 1/α under the null, so the set of m it has
not rejected is a confidence sequence: valid at every look, however often anyone reloads the report.
Fixed bets make the capital depend on the data only through how often each value occurs, so the sequence
is computed from the per-category counts the database aggregates, in any order.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

# Bets from tiny (long, slow drifts) to nearly the whole stake. A bet λ on "x - m" is only safe while
# 1 + λ(-1 - m) > 0; beyond that it is left out (its capital counted as 0, the average still over all of them),
# which keeps every component a nonnegative supermartingale and the capital falling as m rises: the set of
# unrejected means is an interval.
BETS = np.geomspace(1e-4, 0.95, 64)
_EDGE = 1e-9


@dataclass(frozen=True, slots=True)
class Tally:
    """How many observations took each value (values in [-1, 1])."""

    values: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def n(self) -> int:
        """Number of observations."""
        return sum(self.counts)

    @property
    def mean(self) -> float:
        """Sample mean (0 when empty)."""
        return sum(v * c for v, c in zip(self.values, self.counts, strict=True)) / self.n if self.n else 0.0


def paired_tally(worse: int, better: int, n: int) -> Tally:
    """A paired binary outcome as differences: +1 (only the candidate), -1 (only the baseline), 0 otherwise."""
    return Tally((1.0, -1.0, 0.0), (worse, better, n - worse - better))


def share_tally(beyond: int, n: int) -> Tally:
    """Pairs beyond a bound as +1, the rest as -1: the mean is 2 * share - 1."""
    return Tally((1.0, -1.0), (beyond, n - beyond))


def log_capital(tally: Tally, m: float) -> float:
    """Log of the averaged capital against the null "mean <= m" (large when the mean is above m)."""
    seen = [(v, c) for v, c in zip(tally.values, tally.counts, strict=True) if c]
    values = np.array([v for v, _ in seen], dtype=float)
    counts = np.array([c for _, c in seen], dtype=float)
    usable = BETS * (1 + m) < 1
    per_bet = np.full(BETS.size, -np.inf)
    per_bet[usable] = np.log1p(np.outer(BETS[usable], values - m)) @ counts
    top = per_bet.max()
    if not math.isfinite(top):
        return float(top)
    # log-mean-exp by hand: scipy's logsumexp costs more than the rest of this function.
    return float(top + math.log(np.exp(per_bet - top).sum() / BETS.size))


def lower_bound(tally: Tally, alpha: float) -> float:
    """One-sided lower confidence sequence at level alpha: the smallest mean not yet rejected."""
    threshold = math.log(1 / alpha)
    if tally.n == 0 or log_capital(tally, -1 + _EDGE) < threshold:
        return -1.0
    top = min(max(v for v, c in zip(tally.values, tally.counts, strict=True) if c), 1 - _EDGE)
    if log_capital(tally, top) >= threshold:
        return top
    return float(brentq(lambda m: log_capital(tally, m) - threshold, -1 + _EDGE, top, xtol=1e-7))


def upper_bound(tally: Tally, alpha: float) -> float:
    """One-sided upper confidence sequence at level alpha (the lower bound of the mirrored data)."""
    mirrored = Tally(tuple(-v for v in tally.values), tally.counts)
    return -lower_bound(mirrored, alpha)


def interval(tally: Tally, alpha_each_side: float) -> tuple[float, float]:
    """Both bounds, each one-sided at `alpha_each_side`."""
    return lower_bound(tally, alpha_each_side), upper_bound(tally, alpha_each_side)


@functools.lru_cache(maxsize=4096)
def quantile_ranks(n: int, q: float, alpha_each_side: float) -> tuple[int, int]:
    """Ranks (1-based) of the order statistics that bound the q-quantile at every sample size (anytime-valid).

    Indicators 1{X_i <= Q(q)} have mean q exactly; the counts the betting sequence does not reject at mean
    2q - 1 (as ±1) bound how many of n observations lie at or below Q(q) (the sequential analogue of
    the binomial ranks in `monitors.analysis.stats.quantile_interval`; Howard & Ramdas 2022, Bernoulli 28:3).
    Returns (lower rank, upper rank); 0 means no finite lower bound, n + 1 no finite upper bound.
    """
    if n == 0:
        return 0, 1
    k = np.arange(n + 1, dtype=float)
    m = 2 * q - 1
    # Only the bets safe on each side (as in `log_capital`); the average is still over all of them.
    up, down = BETS[BETS * (1 + m) < 1], BETS[BETS * (1 - m) < 1]
    above = np.outer(np.log1p(up * (1 - m)), k) + np.outer(np.log1p(up * (-1 - m)), n - k)
    below = np.outer(np.log1p(-down * (1 - m)), k) + np.outer(np.log1p(-down * (-1 - m)), n - k)
    threshold = math.log(1 / alpha_each_side) + math.log(BETS.size)
    accepted = (logsumexp(above, axis=0) < threshold) & (logsumexp(below, axis=0) < threshold)
    kept = np.flatnonzero(accepted)
    if kept.size == 0:
        return 0, n + 1
    # At least k_low observations at or below Q: X_(k_low) <= Q. At most k_high: X_(k_high + 1) > Q.
    return int(kept[0]), int(kept[-1]) + 1


def quantile_bounds(values: np.ndarray, q: float, alpha_each_side: float) -> tuple[float, float]:
    """Anytime-valid interval of the q-quantile from a sample (0 / infinity where the ranks run off the sample)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    low_rank, high_rank = quantile_ranks(ordered.size, q, alpha_each_side)
    low = float(ordered[low_rank - 1]) if low_rank >= 1 else 0.0
    high = float(ordered[high_rank - 1]) if high_rank <= ordered.size else float("inf")
    return low, high


def _settled(tally: Tally, margin: float, alpha: float) -> bool:
    low, high = interval(tally, alpha)
    return low > margin or high < margin


def _scaled(tally: Tally, n: int) -> Tally:
    total = tally.n
    return Tally(tally.values, tuple(round(c * n / total) for c in tally.counts))


def settling_n(tally: Tally, margin: float, alpha: float, max_n: int = 10**9) -> int | None:
    """Observations after which the sequence would exclude `margin` if the observed proportions held, or None.

    A planning figure ("how much more traffic"), not a guarantee: the proportions will move.
    """
    if tally.n == 0 or abs(tally.mean - margin) < 1e-12:
        return None
    if _settled(tally, margin, alpha):
        return tally.n
    low, high = tally.n, tally.n
    while not _settled(_scaled(tally, high), margin, alpha):
        if high >= max_n:
            return None
        low, high = high, min(high * 2, max_n)
    while high - low > max(1, low // 100):
        middle = (low + high) // 2
        low, high = (low, middle) if _settled(_scaled(tally, middle), margin, alpha) else (middle, high)
    return high


@dataclass(frozen=True, slots=True)
class ArmStratum:
    """Live answers of one routing stratum: the candidate's traffic share, and events and totals per arm."""

    share: float  # probability that a request of this stratum was routed to the candidate, in (0, 1)
    candidate_events: int
    candidate_n: int
    baseline_events: int
    baseline_n: int

    @property
    def scale(self) -> float:
        """Largest absolute inverse-propensity weight: dividing by it keeps observations in [-1, 1]."""
        return max(1 / self.share, 1 / (1 - self.share))


def _ipw_terms(stratum: ArmStratum, direction: float) -> tuple[np.ndarray, np.ndarray]:
    """The stratum's observations (scaled inverse-propensity differences, times `direction`) and their counts."""
    c, s = stratum.scale, stratum.share
    values = direction * np.array([1 / (s * c), -1 / ((1 - s) * c), 0.0])
    counts = np.array([stratum.candidate_events, stratum.baseline_events,
                       stratum.candidate_n + stratum.baseline_n - stratum.candidate_events - stratum.baseline_events],
                      dtype=float)
    return values, counts


def ipw_log_capital(strata: list[ArmStratum], delta: float, direction: float = 1.0) -> float:
    """Log capital against "the rate difference (candidate minus baseline) is at most delta in every stratum".

    Each answer contributes Y (1/s if it was the candidate's, -1/(1-s) if the baseline's), scaled into [-1, 1]:
    with routing random at share s its mean is the stratum's rate difference over the scale, whatever else
    changed between strata, so the betting test needs no model of the strata (a randomisation-based e-process;
    Waudby-Smith & Ramdas 2023 for the bets). `direction=-1` tests "at least delta" instead.
    """
    nulls = [direction * delta / s.scale for s in strata]
    usable = BETS * (1 + max(nulls, default=0.0)) < 1
    per_bet = np.zeros(int(usable.sum()))
    for stratum, null in zip(strata, nulls, strict=True):
        values, counts = _ipw_terms(stratum, direction)
        seen = counts > 0
        per_bet += np.log1p(np.outer(BETS[usable], values[seen] - null)) @ counts[seen]
    if not per_bet.size:
        return -math.inf
    top = per_bet.max()
    return float(top + math.log(np.exp(per_bet - top).sum() / BETS.size))


def ipw_interval(strata: list[ArmStratum], alpha_each_side: float) -> tuple[float, float]:
    """Anytime-valid bounds on the rate difference common to the strata, each one-sided at `alpha_each_side`."""
    strata = [s for s in strata if 0 < s.share < 1 and s.candidate_n + s.baseline_n]
    if not strata:
        return -1.0, 1.0
    threshold = math.log(1 / alpha_each_side)
    low_end, high_end = -1 + _EDGE, 1 - _EDGE

    def excess(delta: float, direction: float) -> float:
        return ipw_log_capital(strata, delta, direction) - threshold

    # "At most delta" loses capital as delta rises, "at least delta" gains it; -1 and 1 bracket every difference.
    if excess(low_end, 1.0) < 0:
        lower = -1.0
    elif excess(high_end, 1.0) >= 0:
        lower = 1.0
    else:
        lower = float(brentq(excess, low_end, high_end, args=(1.0,), xtol=1e-7))
    if excess(high_end, -1.0) < 0:
        upper = 1.0
    elif excess(low_end, -1.0) >= 0:
        upper = -1.0
    else:
        upper = float(brentq(excess, low_end, high_end, args=(-1.0,), xtol=1e-7))
    return lower, upper
