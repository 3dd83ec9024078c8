"""The payoff half's intervals: each equals the library computation it names, and identical arms are called
neither improved nor slower in at least 95% of repeated runs at the committed level."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evals.performance.judging import NOT_SHOWN, concurrency_ratios, verdict
from evals.performance.measure import ArmTimings, RequestTiming, RoundTiming
from evals.performance.ratios import RESAMPLES, clustered_quantile_ratio, quantile_ratio, round_ratio


def test_round_ratio_is_the_t_interval_of_the_log_ratios() -> None:
    base, cand = np.array([100.0, 104.0, 98.0, 101.0]), np.array([70.0, 75.0, 69.0, 72.0])
    ratio = round_ratio(base, cand, 0.95)
    logs = np.log(cand / base)
    t = stats.t.ppf(0.975, len(logs) - 1)
    half = t * logs.std(ddof=1) / math.sqrt(len(logs))
    assert ratio.ratio == pytest.approx(math.exp(logs.mean()))
    assert (ratio.low, ratio.high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    assert verdict("aggregate_tokens_per_s", ratio) == "slower" and verdict("ttft_p95", ratio) == "improved"


def test_quantile_ratio_is_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(3)
    base, cand = rng.lognormal(0, 0.3, 40), rng.lognormal(0.2, 0.3, 40)
    ratio = quantile_ratio(base, cand, 0.95, 0.9, seed=7)
    direct = stats.bootstrap((cand, base), lambda c, b, axis: np.quantile(c, 0.95, axis=axis) /
                             np.quantile(b, 0.95, axis=axis), paired=False, vectorized=True, method="percentile",
                             confidence_level=0.9, n_resamples=RESAMPLES, rng=np.random.default_rng(7))
    assert (ratio.low, ratio.high) == pytest.approx((direct.confidence_interval.low, direct.confidence_interval.high))
    assert ratio.ratio == pytest.approx(np.quantile(cand, 0.95) / np.quantile(base, 0.95))


def test_gaps_are_resampled_by_request() -> None:
    rng = np.random.default_rng(5)
    base = [rng.lognormal(0, 0.2, 9) for _ in range(20)]
    # The candidate's requests each sit at their own level: gaps of one request move together.
    cand = [rng.lognormal(0, 0.05, 9) * rng.lognormal(0, 0.4) for _ in range(20)]
    clustered = clustered_quantile_ratio(base, cand, 0.5, 0.95, seed=1)
    pooled = quantile_ratio(np.concatenate(base), np.concatenate(cand), 0.5, 0.95, seed=1)
    assert clustered.ratio == pytest.approx(pooled.ratio)
    # Treating 180 correlated gaps as independent would claim a narrower interval than 20 requests support.
    assert clustered.high - clustered.low > 1.5 * (pooled.high - pooled.low)


def _arm(rng: np.random.Generator, drift: np.ndarray, requests: int = 8) -> ArmTimings:
    """One arm's rounds at concurrency 1: lognormal first tokens and gaps, each round slowed by the machine's
    drift (shared by both arms: they run back to back)."""
    arm = ArmTimings()
    for factor in drift:
        timings = []
        for _ in range(requests):
            ttft, gaps = rng.lognormal(math.log(0.012), 0.3) * factor, rng.lognormal(math.log(0.004), 0.2, 9) * factor
            timings.append(RequestTiming(ttft, ttft + gaps.sum(), 10, tuple(gaps)))
        arm.rounds.append(RoundTiming(sum(t.total_s for t in timings), timings))
    return arm


def test_identical_arms_are_neither_improved_nor_slower_in_95_percent_of_runs() -> None:
    level = 1 - 0.05 / 18  # the stage's level for two concurrencies without costs
    runs, false = 100, 0
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        drift = rng.lognormal(0, 0.05, 4)
        ratios = concurrency_ratios({"baseline": _arm(rng, drift), "candidate": _arm(rng, drift)}, level, seed)
        false += any(verdict(metric, ratio) != NOT_SHOWN for metric, (ratio, _) in ratios.items())
    assert false <= 5, f"{false} of {runs} A/A runs had a verdict"
