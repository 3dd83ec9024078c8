"""Candidate / baseline ratios with intervals, and what they show against the committed targets.

Two kinds of interval, by how the figure is measured:
- Per-round figures (aggregate tokens/s, requests/s): the rounds pair the arms (they ran back to back, in
  alternating order), so the interval is the one-sample t interval of the rounds' log ratios, exponentiated
  (the geometric mean ratio; `scipy.stats.ttest_1samp(...).confidence_interval`).
- Per-request figures (TTFT, total time and per-stream tokens/s quantiles) and inter-token latency: the
  percentile bootstrap of the ratio of the two arms' quantiles, arms resampled independently
  (`scipy.stats.bootstrap`, Efron & Tibshirani 1993 ch. 13); inter-token gaps resampled by request (a cluster
  bootstrap), since the gaps of one answer are not independent of each other.
Every interval shown is one of a family (Bonferroni at the policy's significance over all of them), two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

RESAMPLES = 4000


@dataclass(frozen=True, slots=True)
class Ratio:
    """Candidate over baseline, with its interval (low == high when it is a reading with no sampling error)."""

    baseline: float
    candidate: float
    ratio: float
    low: float
    high: float


def round_ratio(baseline: np.ndarray, candidate: np.ndarray, level: float) -> Ratio:
    """Geometric-mean ratio of per-round figures paired by round, with the t interval of their log ratios."""
    logs = np.log(candidate) - np.log(baseline)
    point = float(np.exp(logs.mean()))
    if len(logs) < 2 or float(np.ptp(logs)) == 0.0:
        low = high = point
    else:
        interval = stats.ttest_1samp(logs, 0.0).confidence_interval(confidence_level=level)
        low, high = math.exp(interval.low), math.exp(interval.high)
    return Ratio(float(np.exp(np.log(baseline).mean())), float(np.exp(np.log(candidate).mean())), point, low, high)


def _bootstrap(data: tuple[np.ndarray, np.ndarray], statistic: object, level: float, seed: int) -> tuple[float, float]:
    result = stats.bootstrap(data, statistic, paired=False, vectorized=True, method="percentile",
                             confidence_level=level, n_resamples=RESAMPLES, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def quantile_ratio(baseline: np.ndarray, candidate: np.ndarray, q: float, level: float, seed: int = 0) -> Ratio:
    """Ratio of the arms' q-quantiles, with the percentile bootstrap interval (arms resampled independently)."""
    base_q, cand_q = float(np.quantile(baseline, q)), float(np.quantile(candidate, q))

    def statistic(cand: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.quantile(cand, q, axis=axis) / np.quantile(base, q, axis=axis)

    low, high = _bootstrap((candidate, baseline), statistic, level, seed)
    return Ratio(base_q, cand_q, cand_q / base_q, low, high)


def _padded(groups: list[np.ndarray]) -> np.ndarray:
    """Ragged groups as rows padded with NaN (quantiles below ignore the padding)."""
    width = max((len(g) for g in groups), default=0)
    rows = np.full((len(groups), max(width, 1)), np.nan)
    for i, group in enumerate(groups):
        rows[i, :len(group)] = group
    return rows


def clustered_quantile_ratio(baseline: list[np.ndarray], candidate: list[np.ndarray], q: float, level: float,
                             seed: int = 0) -> Ratio:
    """Ratio of the arms' q-quantiles over pooled values (inter-token gaps), resampling whole groups (requests)."""
    base_rows, cand_rows = _padded(baseline), _padded(candidate)
    base_q, cand_q = float(np.nanquantile(base_rows, q)), float(np.nanquantile(cand_rows, q))

    def pooled(rows: np.ndarray, picks: np.ndarray) -> np.ndarray:
        chosen = rows[picks.astype(int)]  # (..., groups, width)
        flat = chosen.reshape(*chosen.shape[:-2], -1)
        # Forced answer lengths make the rows full: the NaN-aware quantile (several times slower) only when padded.
        return np.nanquantile(flat, q, axis=-1) if np.isnan(rows).any() else np.quantile(flat, q, axis=-1)

    def statistic(cand: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
        return pooled(cand_rows, cand) / pooled(base_rows, base)

    low, high = _bootstrap((np.arange(len(candidate), dtype=float), np.arange(len(baseline), dtype=float)),
                           statistic, level, seed)
    return Ratio(base_q, cand_q, cand_q / base_q, low, high)
