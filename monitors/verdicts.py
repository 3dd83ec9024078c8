"""Verdicts per (category, metric): regression, ok, improvement or insufficient data, with honest statistics."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from monitors.policy import RateTolerance, RatioTolerance, RegressionPolicy, SimilarityTolerance
from monitors.stats import Estimate, holm, median_below, median_ratio, paired_p95_change, paired_rates, wilson

REGRESSION, OK, IMPROVEMENT, INSUFFICIENT = "regression", "ok", "improvement", "insufficient data"
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


def _rate_verdict(samples: list[PairSample], metric: str, alpha: float) -> tuple[Estimate, str]:
    field_name = RATE_FIELDS[metric]
    if metric == "format_break_rate":
        samples = [s for s in samples if s.baseline.get("format_checked") and s.candidate.get("format_checked")]
    base = np.array([bool(s.baseline.get(field_name)) for s in samples])
    cand = np.array([bool(s.candidate.get(field_name)) for s in samples])
    return paired_rates(base, cand, alpha), "McNemar exact; exact conditional interval of the paired difference"


def _estimate(samples: list[PairSample], metric: str, tol: Any, alpha: float) -> tuple[Estimate, str]:
    if metric in RATE_FIELDS:
        return _rate_verdict(samples, metric, alpha)
    if metric == "length_ratio":
        ratios = np.array([s.length_ratio for s in samples if s.length_ratio is not None], dtype=float)
        return median_ratio(ratios, alpha), "Wilcoxon signed-rank on log ratio; bootstrap interval of the median"
    if metric == "similarity":
        values = np.array([s.similarity for s in samples], dtype=float)
        return median_below(values, tol.min_median, alpha), "one-sided Wilcoxon vs threshold; bootstrap median"
    timed = [s for s in samples if s.baseline_ttft_s and s.candidate_ttft_s]
    base = np.array([s.baseline_ttft_s for s in timed], dtype=float)
    cand = np.array([s.candidate_ttft_s for s in timed], dtype=float)
    return paired_p95_change(base, cand, alpha), "Wilcoxon signed-rank on log TTFT ratio; paired bootstrap of p95"


def classify(est: Estimate, tol: Any, significant: bool) -> str:
    """The verdict for one estimate under its tolerance, once its (adjusted) test said whether it is significant."""
    if not significant:
        return OK
    if isinstance(tol, RateTolerance):
        if est.effect * 100 > tol.max_increase_pp:
            return REGRESSION
        return IMPROVEMENT if est.effect < 0 else OK
    if isinstance(tol, RatioTolerance):
        return REGRESSION if not tol.min <= est.effect <= tol.max else OK
    if isinstance(tol, SimilarityTolerance):
        return REGRESSION if est.effect < tol.min_median else OK
    if est.effect * 100 > tol.max_increase_pct:
        return REGRESSION
    return IMPROVEMENT if est.effect < 0 else OK


def build_report(samples: list[PairSample], policy: RegressionPolicy, baseline_stamp: dict[str, str],
                 candidate_stamp: dict[str, str]) -> VerdictReport:
    """Verdicts for every category and metric in the policy, Holm-corrected across all of them."""
    alpha = policy.significance
    by_category: dict[str, list[PairSample]] = {}
    for sample in samples:
        by_category.setdefault(sample.category, []).append(sample)
    report = VerdictReport(policy=policy.stamp(), significance=alpha, generated_at=datetime.now(UTC).isoformat(),
                           baseline_stamp=baseline_stamp, candidate_stamp=candidate_stamp,
                           calibration_set=candidate_stamp.get("calibration_set") or policy.calibration_set,
                           strata={c: len(s) for c, s in sorted(by_category.items())})
    tested: list[tuple[Verdict, Estimate, Any]] = []
    for category, group in sorted(by_category.items()):
        for metric in ("refusal_rate", "format_break_rate", "repetition_rate", "length_ratio", "similarity",
                       "ttft_p95"):
            tol = policy.tolerance(category, metric)
            if tol is None:
                continue
            est, method = _estimate(group, metric, tol, alpha)
            verdict = Verdict(category, metric, INSUFFICIENT, est.effect, (est.low, est.high), est.n, est.baseline,
                              est.candidate, tol.model_dump(), est.p_value, method=method)
            if metric in RATE_FIELDS:
                verdict.baseline_interval = wilson(round(est.baseline * est.n), est.n, alpha)
                verdict.candidate_interval = wilson(round(est.candidate * est.n), est.n, alpha)
            report.verdicts.append(verdict)
            if est.n >= policy.min_samples(category):
                tested.append((verdict, est, tol))
    settle(tested, alpha)
    return report


def settle(tested: list[tuple[Verdict, Estimate, Any]], alpha: float) -> None:
    """Holm-correct the tested verdicts among themselves and classify each one."""
    adjusted = holm([1.0 if v.p_value is None else v.p_value for v, _, _ in tested], alpha)
    for (verdict, est, tol), p_adj in zip(tested, adjusted, strict=True):
        verdict.p_adjusted = p_adj
        verdict.verdict = classify(est, tol, p_adj < alpha)
