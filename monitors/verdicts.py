"""Verdicts per (category, metric): regression, ok, improvement or insufficient data, with honest statistics."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from monitors.paired_rates import PairedCounts, p_above, tango_interval
from monitors.policy import LatencyTolerance, RateTolerance, RatioTolerance, RegressionPolicy
from monitors.sign_tests import share_beyond
from monitors.stats import Estimate, paired_p95_change, wilson

REGRESSION, OK, IMPROVEMENT, INSUFFICIENT = "regression", "ok", "improvement", "insufficient data"
# Neither beyond the tolerance nor shown within it: the data cannot tell yet ("no evidence" is not "ok").
INCONCLUSIVE = "inconclusive"
METRIC_ORDER = ("refusal_rate", "format_break_rate", "repetition_rate", "length_ratio", "similarity", "ttft_p95")
# Paired rate metrics and the judgement field each one counts.
RATE_FIELDS = {"refusal_rate": "refused", "format_break_rate": "format_broken", "repetition_rate": "repetitive"}


@dataclass(frozen=True, slots=True)
class PairSample:
    """The per-pair facts the statistics need (from a stored comparison or a simulation)."""

    category: str
    baseline: dict[str, Any]  # judgement: refused, format_checked, format_broken, repetitive, ...
    candidate: dict[str, Any]
    length_ratio: float | None
    similarity: float
    baseline_ttft_s: float | None
    candidate_ttft_s: float | None


@dataclass
class Verdict:
    """One (category, metric) judgement with everything needed to interpret it."""

    category: str
    metric: str
    verdict: str
    effect: float
    interval: tuple[float, float]
    n: int
    baseline_value: float
    candidate_value: float
    tolerance: dict[str, Any]
    p_value: float | None
    p_adjusted: float | None = None
    method: str = ""
    # Wilson intervals of each arm's own rate (rate metrics only).
    baseline_interval: tuple[float, float] | None = None
    candidate_interval: tuple[float, float] | None = None
    # Two-sided confidence level of `interval` (Bonferroni over the tested family: each bound one-sided at α/m).
    interval_level: float | None = None
    # Pairs that would settle an inconclusive rate verdict at the observed rates (80% power).
    pairs_needed: int | None = None


@dataclass
class VerdictReport:
    """All verdicts of one analysis, stamped with the policy and both models."""

    policy: str
    significance: float
    generated_at: str
    baseline_stamp: dict[str, str]
    candidate_stamp: dict[str, str]
    calibration_set: str
    strata: dict[str, int]
    verdicts: list[Verdict] = field(default_factory=list)
    # Unpaired comparison of live traffic per variant (window: since the server started).
    live_verdicts: list[Verdict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (infinite or undefined figures become null)."""
        return _finite(asdict(self))

    def regressions(self) -> list[Verdict]:
        """Verdicts that say the candidate is worse beyond tolerance."""
        return [v for v in self.verdicts if v.verdict == REGRESSION]


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _rate_samples(samples: list[PairSample], metric: str) -> list[PairSample]:
    if metric == "format_break_rate":
        return [s for s in samples if s.baseline.get("format_checked") and s.candidate.get("format_checked")]
    return samples


def paired_counts(samples: list[PairSample], metric: str) -> PairedCounts:
    """The paired table of one rate metric: pairs, and discordant pairs each way."""
    field_name = RATE_FIELDS[metric]
    kept = _rate_samples(samples, metric)
    base = np.array([bool(s.baseline.get(field_name)) for s in kept], dtype=bool)
    cand = np.array([bool(s.candidate.get(field_name)) for s in kept], dtype=bool)
    return PairedCounts(int(base.size), int(np.sum(cand & ~base)), int(np.sum(base & ~cand)), int(np.sum(base & cand)))


def _rate_estimate(samples: list[PairSample], metric: str, tol: RateTolerance, alpha: float) -> Estimate:
    counts = paired_counts(samples, metric)
    if not counts.n:
        return Estimate(0, 0.0, -1.0, 1.0, 1.0, 0.0, 0.0)
    low, high = tango_interval(counts.worse, counts.better, counts.n, alpha)
    p_value = p_above(counts.worse, counts.better, counts.n, tol.max_increase_pp / 100)
    return Estimate(counts.n, counts.effect, low, high, p_value, counts.baseline_rate, counts.candidate_rate)


def sample_size(samples: list[PairSample], metric: str) -> int:
    """How many pairs a metric's test would use (before running it)."""
    if metric in RATE_FIELDS:
        return len(_rate_samples(samples, metric))
    if metric == "length_ratio":
        return sum(s.length_ratio is not None for s in samples)
    if metric == "similarity":
        return len(samples)
    return sum(bool(s.baseline_ttft_s and s.candidate_ttft_s) for s in samples)


def _estimate(samples: list[PairSample], metric: str, tol: Any, alpha: float) -> tuple[Estimate, str]:
    if metric in RATE_FIELDS:
        return (_rate_estimate(samples, metric, tol, alpha),
                "Tango score interval of the paired difference; one-sided score test at the tolerance")
    if metric == "length_ratio":
        return _length_estimate(samples, tol, alpha), ("sign tests: share of pairs below min and share above max "
                                                      "(empty answers kept), exact intervals, against one half")
    if metric == "similarity":
        values = np.array([s.similarity for s in samples], dtype=float)
        beyond = share_beyond(values < tol.min_median, alpha)
        return (Estimate(beyond.n, beyond.share, beyond.low, beyond.high, 1.0, tol.min_median,
                         float(np.median(values)) if values.size else 0.0),
                "sign test: share of pairs below the minimum, exact interval, against one half")
    timed = [s for s in samples if s.baseline_ttft_s and s.candidate_ttft_s]
    base = np.array([s.baseline_ttft_s for s in timed], dtype=float)
    cand = np.array([s.candidate_ttft_s for s in timed], dtype=float)
    return (paired_p95_change(base, cand, alpha),
            "order-statistic intervals of each arm's p95, combined into an exact interval of the change")


def _length_estimate(samples: list[PairSample], tol: RatioTolerance, alpha: float) -> Estimate:
    """The worse of the two sign tests: effect and bounds are the larger share beyond either end."""
    ratios = np.array([s.length_ratio for s in samples if s.length_ratio is not None], dtype=float)
    # Two tests share this metric's level (Bonferroni within the metric).
    below, above = share_beyond(ratios < tol.min, alpha / 2), share_beyond(ratios > tol.max, alpha / 2)
    median = float(np.median(ratios)) if ratios.size else 1.0
    return Estimate(below.n, max(below.share, above.share), max(below.low, above.low), max(below.high, above.high),
                    1.0, 1.0, median)


def judge(est: Estimate, tol: Any) -> str:
    """Interval against tolerance: beyond it, shown inside it, or neither (the null is the tolerance)."""
    low, high = est.low, est.high
    if isinstance(tol, (RateTolerance, LatencyTolerance)):
        margin = tol.max_increase_pp / 100 if isinstance(tol, RateTolerance) else tol.max_increase_pct / 100
        if low > margin:
            return REGRESSION
        if high < 0:
            return IMPROVEMENT
        return OK if high < margin else INCONCLUSIVE
    # Length ratio and similarity: the share of pairs beyond the bound, against one half (the median's side).
    if low > 0.5:
        return REGRESSION
    return OK if high < 0.5 else INCONCLUSIVE


def build_report(samples: list[PairSample], policy: RegressionPolicy, baseline_stamp: dict[str, str],
                 candidate_stamp: dict[str, str]) -> VerdictReport:
    """Verdicts for every category and metric in the policy, each tested against its committed tolerance.

    Each interval's bounds are one-sided at α/m over the m tested (category, metric) pairs (Bonferroni), so
    "regression" (lower bound beyond the tolerance) and "ok" (upper bound inside it) both hold family-wise.
    """
    alpha = policy.significance
    by_category: dict[str, list[PairSample]] = {}
    for sample in samples:
        by_category.setdefault(sample.category, []).append(sample)
    report = VerdictReport(policy=policy.stamp(), significance=alpha, generated_at=datetime.now(UTC).isoformat(),
                           baseline_stamp=baseline_stamp, candidate_stamp=candidate_stamp,
                           calibration_set=candidate_stamp.get("calibration_set") or policy.calibration_set,
                           strata={c: len(s) for c, s in sorted(by_category.items())})
    plan = [(category, group, metric, tol) for category, group in sorted(by_category.items())
            for metric in METRIC_ORDER if (tol := policy.tolerance(category, metric)) is not None]
    tested = [sample_size(group, metric) >= policy.min_samples(category) for category, group, metric, _ in plan]
    side = alpha / max(1, sum(tested))
    for (category, group, metric, tol), enough in zip(plan, tested, strict=True):
        est, method = _estimate(group, metric, tol, 2 * side)
        verdict = Verdict(category, metric, judge(est, tol) if enough else INSUFFICIENT, est.effect,
                          (est.low, est.high), est.n, est.baseline, est.candidate, tol.model_dump(),
                          est.p_value if metric in RATE_FIELDS else None, method=method, interval_level=1 - 2 * side)
        if metric in RATE_FIELDS:
            verdict.p_adjusted = min(1.0, est.p_value * max(1, sum(tested))) if enough else None
            verdict.baseline_interval = wilson(round(est.baseline * est.n), est.n, alpha)
            verdict.candidate_interval = wilson(round(est.candidate * est.n), est.n, alpha)
            if verdict.verdict in (INCONCLUSIVE, INSUFFICIENT):
                verdict.pairs_needed = paired_counts(group, metric).pairs_needed(tol.max_increase_pp / 100, side)
        report.verdicts.append(verdict)
    return report
