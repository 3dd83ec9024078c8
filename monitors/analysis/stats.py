"""Statistical tests and intervals behind the verdicts (scipy and statsmodels, nothing hand-rolled)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, test_proportions_2indep

_RNG_SEED = 20261124  # bootstrap intervals are reproducible run to run
_RESAMPLES = 1999


@dataclass(frozen=True, slots=True)
class Estimate:
    """An effect with its interval, the test's p-value, and what it was computed on."""

    n: int
    effect: float
    low: float
    high: float
    p_value: float
    baseline: float
    candidate: float


def wilson(count: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a rate."""
    if n == 0:
        return 0.0, 1.0
    low, high = proportion_confint(count, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def _bootstrap_ci(data: tuple[np.ndarray, ...], statistic, alpha: float, paired: bool = True,  # type: ignore[no-untyped-def]
                  method: str = "percentile") -> tuple[float, float]:
    if data[0].size < 3:
        return float("-inf"), float("inf")
    result = sps.bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=_RESAMPLES,
                           confidence_level=1 - alpha, method=method, random_state=np.random.default_rng(_RNG_SEED))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if method != "percentile" and not (np.isfinite(low) and np.isfinite(high)):
        # BCa is undefined on degenerate resamples (all equal): fall back to the percentile interval.
        return _bootstrap_ci(data, statistic, alpha, paired)
    return low, high


def _wilcoxon(values: np.ndarray, alternative: str = "two-sided") -> float:
    nonzero = values[values != 0]
    if nonzero.size == 0:
        return 1.0
    return float(sps.wilcoxon(nonzero, alternative=alternative).pvalue)


def _p95_change(base: np.ndarray, cand: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.percentile(cand, 95, axis=axis) / np.percentile(base, 95, axis=axis) - 1


def quantile_interval(values: np.ndarray, q: float, alpha: float) -> tuple[float, float]:
    """Distribution-free interval of the q-quantile from order statistics (scipy's `quantile_test`; Conover 1999).

    Exact at any level, unlike a bootstrap, whose tails at the family-wise levels used here (a tenth of a
    percent) rest on a handful of resamples. Beyond the sample the bound is open (0 or infinity).
    """
    interval = sps.quantile_test(values, p=q).confidence_interval(1 - alpha)
    low, high = float(interval.low), float(interval.high)
    return (low if np.isfinite(low) else 0.0), (high if np.isfinite(high) else float("inf"))


def paired_p95_change(base: np.ndarray, cand: np.ndarray, alpha: float) -> Estimate:
    """Relative change of p95 (candidate/baseline - 1) with an exact, conservative interval.

    Each arm's p95 gets an order-statistic interval at alpha / 2 (Bonferroni over the two arms); the change
    then lies in [low_c / high_b, high_c / low_b] - 1 with probability at least 1 - alpha.
    """
    keep = (base > 0) & (cand > 0)
    base, cand = base[keep], cand[keep]
    if base.size == 0:
        return Estimate(0, 0.0, float("-inf"), float("inf"), 1.0, 0.0, 0.0)
    low_b, high_b = quantile_interval(base, 0.95, alpha / 2)
    low_c, high_c = quantile_interval(cand, 0.95, alpha / 2)
    low = low_c / high_b - 1 if np.isfinite(high_b) else -1.0
    high = high_c / low_b - 1 if low_b > 0 else float("inf")
    return Estimate(int(base.size), float(_p95_change(base, cand)), float(low), float(high),
                    _wilcoxon(np.log(cand / base)), float(np.percentile(base, 95)), float(np.percentile(cand, 95)))


def unpaired_rates(base_count: int, base_n: int, cand_count: int, cand_n: int, alpha: float,
                   margin: float = 0.0) -> Estimate:
    """Live traffic per variant: Miettinen-Nurminen score interval of the rate difference (candidate - baseline),
    and the one-sided score test of H0: difference <= margin (Farrington-Manning at the margin)."""
    if base_n == 0 or cand_n == 0:
        return Estimate(min(base_n, cand_n), 0.0, -1.0, 1.0, 1.0, 0.0, 0.0)
    with warnings.catch_warnings():
        # statsmodels also computes ratio and odds ratio, which divide by zero on all-zero arms; unused here.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            low, high = confint_proportions_2indep(cand_count, cand_n, base_count, base_n, method="score",
                                                   compare="diff", alpha=alpha)
        except ValueError:
            # Its root search fails on some small, lopsided tables: Newcombe's hybrid score interval instead.
            low, high = confint_proportions_2indep(cand_count, cand_n, base_count, base_n, method="newcomb",
                                                   compare="diff", alpha=alpha)
        test = test_proportions_2indep(cand_count, cand_n, base_count, base_n, value=margin, method="score",
                                       compare="diff", alternative="larger")
    base_rate, cand_rate = base_count / base_n, cand_count / cand_n
    # The root search can overshoot the parameter space by an ulp (1.0000000000000002 for 7/7 vs 0/7).
    low, high = max(-1.0, float(low)), min(1.0, float(high))
    return Estimate(min(base_n, cand_n), cand_rate - base_rate, low, high, float(test.pvalue), base_rate, cand_rate)
