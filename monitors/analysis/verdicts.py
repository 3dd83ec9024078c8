"""Verdicts per (category, metric): regression, ok, improvement, inconclusive or insufficient data.

Every metric is tested against the tolerance committed in the policy, one-sided in the direction the
policy names: "regression" when the interval's lower bound is beyond the tolerance, "ok" when its upper
bound is inside it, "inconclusive" otherwise. Each bound is one-sided at α/m over the m tested
(category, metric) pairs (Bonferroni), so both labels hold family-wise.

Two kinds of interval, chosen by how the analysis is looked at:
- `anytime` (the report and `/admin/verdicts`, reloaded as pairs accrue): confidence sequences from
  `monitors.analysis.confidence_sequences`, valid at every look.
- `single` (one planned look, such as a pre-ship evaluation): Tango's score interval for paired rates,
  Clopper-Pearson for the sign tests' shares, exact order-statistic intervals for p95.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from monitors.analysis import confidence_sequences as cs
from monitors.analysis.clustering import effective_counts
from monitors.analysis.exact_paired import EXACT_MAX_N, corrected_critical
from monitors.analysis.latency_bounds import p95_change
from monitors.analysis.metric_definitions import METRICS, MetricDefinition
from monitors.analysis.paired_rates import PairedCounts, p_above, tango_bounds, tango_interval
from monitors.analysis.policy import LatencyTolerance, RateTolerance, RatioTolerance, RegressionPolicy
from monitors.analysis.samples import PairSample
from monitors.analysis.sign_tests import share_interval
from monitors.analysis.stats import Estimate, wilson
from monitors.analysis.window_data import CategoryWindow, ShareCount, WindowData, window_from_samples

REGRESSION, OK, IMPROVEMENT, INSUFFICIENT = "regression", "ok", "improvement", "insufficient data"
# Neither beyond the tolerance nor shown within it: the data cannot tell yet ("no evidence" is not "ok").
INCONCLUSIVE = "inconclusive"
ANYTIME, SINGLE = "anytime", "single"
# The chance of settling by "pairs needed" each kind of figure targets, stated beside it.
SETTLING_CHANCE_SINGLE, SETTLING_CHANCE_ANYTIME = 0.8, 0.5
INTERVAL_KINDS = {ANYTIME: "anytime-valid confidence sequence (valid however often it is read)",
                  SINGLE: "fixed-sample interval (valid for one planned look)"}


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
    interval_kind: str = ""
    # Pairs that would settle an inconclusive verdict if the observed proportions held (rate and share metrics),
    # and the chance of settling by then that figure targets (0.8 for one planned look; an anytime sequence's
    # figure is where it settles if the proportions hold exactly, about an even chance).
    pairs_needed: int | None = None
    pairs_needed_chance: float | None = None
    # Metrics computed on a sample of the window's pairs (quantiles, medians): how many pairs it held.
    sample_n: int | None = None
    # What one observation is, and what the interval assumes about them (pairs of one user are not independent):
    # the design effect it allowed for, and how many independent pairs the observations count as.
    unit: str = "pair"
    design_effect: float = 1.0
    independent_n: float | None = None


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
    looks: str = ANYTIME
    # Pairs in the window, and how many of them the value sample (quantiles, medians) holds.
    window_pairs: int = 0
    sampled_pairs: int = 0
    sample_exhaustive: bool = True
    # Shadows that timed out in the window: in the latency quantiles, censored at the time waited.
    censored_shadows: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    # Unpaired comparison of live traffic per variant.
    live_verdicts: list[Verdict] = field(default_factory=list)
    live_window: dict[str, Any] = field(default_factory=dict)
    # How many tests share α (paired and live together), and what that number counts.
    family_size: int = 0
    family_basis: str = ""
    # Which pairs were read: the growing analysis from its start, or a sliding window (and what that means).
    view: dict[str, Any] = field(default_factory=dict)
    # Categories whose sampled pairs came from fewer routing keys than pairs: {category: [pairs, keys]}.
    clustered: dict[str, list[int]] = field(default_factory=dict)

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


@dataclass(frozen=True, slots=True)
class _Bounds:
    """An estimate plus what it needs to plan: the margin-crossing sample size (None where not computed)."""

    estimate: Estimate
    pairs_needed: int | None = None
    sample_n: int | None = None


def _rate(counts: PairedCounts, tol: RateTolerance, side: float, looks: str, plan: bool,
          design: float = 1.0) -> _Bounds:
    """The paired rate's interval, p-value at the tolerance and settling size, on the counts divided by the design
    effect (`monitors.analysis.clustering`; 1 when pairs are independent)."""
    margin = tol.max_increase_pp / 100
    if not counts.n:
        return _Bounds(Estimate(0, 0.0, -1.0, 1.0, 1.0, 0.0, 0.0))
    eff = effective_counts(counts, design)
    if looks == ANYTIME:
        tally = cs.paired_tally(eff.worse, eff.better, eff.n)
        low, high = cs.interval(tally, side)
        # Anytime-valid p-value of "δ <= margin": 1 / capital (Ville).
        p_value = min(1.0, math.exp(-cs.log_capital(tally, margin)))
        needed = cs.settling_n(tally, margin, side) if plan else None
    else:
        low, high = _single_look_bounds(eff, margin, side)
        p_value, needed = p_above(eff.worse, eff.better, eff.n, margin), eff.pairs_needed(margin, side)
    est = Estimate(counts.n, counts.effect, low, high, p_value, counts.baseline_rate, counts.candidate_rate)
    return _Bounds(est, None if needed is None else math.ceil(needed * design))


def _single_look_bounds(counts: PairedCounts, margin: float, side: float) -> tuple[float, float]:
    """Tango's interval with critical values raised until the one-sided tests at the tolerance hold their level
    exactly at this n (`monitors.analysis.exact_paired`); the normal ones above `EXACT_MAX_N` pairs."""
    if counts.n > EXACT_MAX_N:
        return tango_interval(counts.worse, counts.better, counts.n, 2 * side)
    n = max(1, round(counts.n))  # effective counts of clustered pairs need not be whole
    regression = corrected_critical(n, margin, side, upper=True)
    within = corrected_critical(n, margin, side, upper=False)
    return tango_bounds(counts.worse, counts.better, counts.n, regression, within)


def _share_bounds(share: ShareCount, side: float, looks: str, design: float = 1.0) -> tuple[float, float]:
    beyond, n = (share.beyond / design, share.n / design) if design > 1 else (share.beyond, share.n)
    if looks == ANYTIME:
        low, high = cs.interval(cs.share_tally(beyond, n), side)  # type: ignore[arg-type]
        return (low + 1) / 2, (high + 1) / 2
    return share_interval(beyond, n, 2 * side)  # type: ignore[arg-type]


def _share_needed(share: ShareCount, side: float, looks: str, plan: bool) -> int | None:
    return cs.settling_n(cs.share_tally(share.beyond, share.n), 0.0, side) if looks == ANYTIME and plan else None


def _similarity(window: CategoryWindow, tol: Any, side: float, looks: str, plan: bool) -> _Bounds:
    share = window.similarity_below
    low, high = _share_bounds(share, side, looks, window.sample_effects.get("similarity_below", 1.0))
    median = float(np.median(window.similarity)) if window.similarity.size else 0.0
    est = Estimate(share.n, share.beyond / share.n if share.n else 0.0, low, high, 1.0, tol.min_median, median)
    return _Bounds(est, _share_needed(share, side, looks, plan), int(window.similarity.size))


def _length(window: CategoryWindow, tol: RatioTolerance, side: float, looks: str, plan: bool) -> _Bounds:
    """The worse of the two sign tests (share below min, share above max).

    Either test alone shows a regression, so each lower bound is at half this metric's level (Bonferroni over the
    two). Showing the median inside [min, max] needs both upper bounds under one half, and the two shares cannot
    both reach one half at once, so a false "ok" can only come from the one test whose null holds: its upper bound
    at the full level keeps that at α/m too. Each side of the interval is then one-sided at `side`, as labelled.
    """
    below, above = window.length_below, window.length_above
    d_b, d_a = (window.sample_effects.get(f"length_{side_}", 1.0) for side_ in ("below", "above"))
    low_b, high_b = _share_bounds(below, side / 2, looks, d_b)[0], _share_bounds(below, side, looks, d_b)[1]
    low_a, high_a = _share_bounds(above, side / 2, looks, d_a)[0], _share_bounds(above, side, looks, d_a)[1]
    shares = [s.beyond / s.n if s.n else 0.0 for s in (below, above)]
    median = float(np.median(window.length_ratio)) if window.length_ratio.size else 1.0
    worse = below if shares[0] >= shares[1] else above
    est = Estimate(below.n, max(shares), max(low_b, low_a), max(high_b, high_a), 1.0, 1.0, median)
    return _Bounds(est, _share_needed(worse, side / 2, looks, plan), int(window.length_ratio.size))


def _latency(window: CategoryWindow, side: float, looks: str, times: str) -> _Bounds:
    estimate, size = p95_change(window, side, looks == ANYTIME, times)
    return _Bounds(estimate, sample_n=size)


_METHODS = {
    "rate": {ANYTIME: "paired differences: betting confidence sequence; anytime p-value at the tolerance",
             SINGLE: "Tango score interval of the paired difference, its critical values raised to the exact "
                     "size at the tolerance (exact unconditional, up to 2,500 pairs); one-sided score test there"},
    "length_ratio": "sign tests: share of pairs below min and share above max (empty answers kept), against one half",
    "similarity": "sign test: share of pairs below the minimum, against one half",
    "latency": "each arm's {label} from order statistics (ranks from {kind}; timed-out shadows censored at the time "
               "waited), combined into an interval of the change",
}


def _method(metric: MetricDefinition, looks: str) -> str:
    if metric.is_rate:
        return _METHODS["rate"][looks]
    text = _METHODS[metric.kind]
    return text.format(label=metric.label, kind="a confidence sequence" if looks == ANYTIME else "the binomial")


def _evaluate(window: CategoryWindow, metric: MetricDefinition, tol: Any, side: float, looks: str,
              plan: bool) -> _Bounds:
    if metric.is_rate:
        return _rate(window.rates[metric.name], tol, side, looks, plan, window.design_effects.get(metric.name, 1.0))
    if metric.kind == "length_ratio":
        return _length(window, tol, side, looks, plan)
    if metric.kind == "similarity":
        return _similarity(window, tol, side, looks, plan)
    return _latency(window, side, looks, str(metric.times))


def sample_size(window: CategoryWindow, metric: MetricDefinition) -> int:
    """How many pairs a metric's test would use (before running it)."""
    if metric.is_rate:
        return window.rates[metric.name].n
    if metric.kind == "length_ratio":
        return window.length_below.n
    if metric.kind == "similarity":
        return window.similarity_below.n
    times = metric.times
    return int(np.sum((getattr(window, f"baseline_{times}") > 0) & (getattr(window, f"candidate_{times}") > 0)))


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


def screened(est: Estimate, tol: Any, enough: bool) -> str:
    """The verdict of an estimate against its tolerance, screened by the minimum sample: the screen may hold back
    "ok" (and "improvement"), never "regression" (an interval that already excludes the tolerance is as valid at 95
    pairs as at 10,000); no observation at all is always insufficient data."""
    if not est.n:
        return INSUFFICIENT
    judged = judge(est, tol)
    return judged if enough or judged == REGRESSION else INSUFFICIENT


def design_of(window: CategoryWindow, metric: MetricDefinition) -> float:
    """The design effect a metric's interval allowed for (the larger of its two shares or arms)."""
    if metric.is_rate:
        return window.design_effects.get(metric.name, 1.0)
    effects = window.sample_effects
    if metric.kind == "similarity":
        return effects.get("similarity_below", 1.0)
    if metric.kind == "length_ratio":
        return max(effects.get("length_below", 1.0), effects.get("length_above", 1.0))
    return max(effects.get(f"baseline_{metric.times}", 1.0), effects.get(f"candidate_{metric.times}", 1.0))


def unit_of(window: CategoryWindow, design: float) -> str:
    """What the verdict's observations are, and how the interval allows for pairs of one user together."""
    pairs, keys = window.sample_pairs, window.sample_keys
    if not keys:
        return "pair (no routing keys known: each pair taken as independent)"
    if not window.clustered:
        return ("pair (each sampled pair from its own routing key: independent; a key with no identity is the "
                "request id, so one person sending without a user id cannot be told apart)")
    return (f"user (routing key): the {pairs:,} sampled pairs came from {keys:,} keys; design effect {design:.2f} "
            "(Rao-Scott): the interval counts the pairs as that many times fewer independent ones")


def _verdict(window: CategoryWindow, metric: MetricDefinition, tol: Any, enough: bool, side: float, family: int,
             looks: str, plan: bool) -> Verdict:
    bounds = _evaluate(window, metric, tol, side, looks, plan)
    est, design = bounds.estimate, design_of(window, metric)
    verdict = Verdict(window.category, metric.name, screened(est, tol, enough), est.effect, (est.low, est.high),
                      est.n, est.baseline, est.candidate, tol.model_dump(),
                      est.p_value if metric.is_rate else None, method=_method(metric, looks),
                      interval_level=1 - 2 * side, interval_kind=INTERVAL_KINDS[looks], sample_n=bounds.sample_n,
                      unit=unit_of(window, design), design_effect=design,
                      independent_n=est.n / design)
    if metric.is_rate:
        verdict.p_adjusted = min(1.0, est.p_value * family) if est.n else None
        verdict.baseline_interval = wilson(round(est.baseline * est.n), est.n, 2 * side)
        verdict.candidate_interval = wilson(round(est.candidate * est.n), est.n, 2 * side)
    if verdict.verdict in (INCONCLUSIVE, INSUFFICIENT):
        verdict.pairs_needed = bounds.pairs_needed
        verdict.pairs_needed_chance = None if bounds.pairs_needed is None else (
            SETTLING_CHANCE_SINGLE if looks == SINGLE else SETTLING_CHANCE_ANYTIME)
    return verdict


def build_report(window: WindowData, policy: RegressionPolicy, baseline_stamp: dict[str, str],
                 candidate_stamp: dict[str, str], looks: str = ANYTIME, pairs_needed: bool = True,
                 other_tests: int = 0, family: int | None = None, family_basis: str = "") -> VerdictReport:
    """Verdicts for every category and metric in the policy, each tested against its committed tolerance.

    `family`: how many tests share α, fixed in advance (`monitors.analysis.hypothesis_family`); without it (one
    planned look, as a validation), the tests with enough pairs plus `other_tests` run elsewhere in the analysis.
    `pairs_needed`: also work out the pairs that would settle each inconclusive verdict (a search; simulations skip it).
    """
    alpha = policy.significance
    report = VerdictReport(policy=policy.stamp(), significance=alpha, generated_at=datetime.now(UTC).isoformat(),
                           baseline_stamp=baseline_stamp, candidate_stamp=candidate_stamp,
                           calibration_set=candidate_stamp.get("calibration_set") or policy.calibration_set,
                           strata={c: w.pairs for c, w in sorted(window.categories.items())}, looks=looks,
                           window_pairs=window.window_pairs, sampled_pairs=window.sampled_pairs,
                           sample_exhaustive=window.exhaustive, censored_shadows=window.censored)
    # A rate the window has no counts for (one that is only scored offline) is not a test here.
    tests = [(cw, metric, tol) for _, cw in sorted(window.categories.items())
             for metric in METRICS if metric.paired and (tol := policy.tolerance(cw.category, metric.name)) is not None
             and (not metric.is_rate or metric.name in cw.rates)]
    tested = [sample_size(cw, metric) >= policy.min_samples(cw.category) for cw, metric, _ in tests]
    if family is None:
        family = max(1, sum(tested) + other_tests)
        family_basis = family_basis or "the tests with enough pairs at this one planned look"
    report.family_size, report.family_basis = family, family_basis
    report.clustered = {name: [cw.sample_pairs, cw.sample_keys] for name, cw in sorted(window.categories.items())
                        if 0 < cw.sample_keys < cw.sample_pairs}
    for (cw, metric, tol), enough in zip(tests, tested, strict=True):
        report.verdicts.append(_verdict(cw, metric, tol, enough, alpha / family, family, looks, pairs_needed))
    return report


def report_from_samples(samples: list[PairSample], policy: RegressionPolicy, baseline_stamp: dict[str, str],
                        candidate_stamp: dict[str, str], looks: str = ANYTIME) -> VerdictReport:
    """`build_report` over pairs held in memory."""
    return build_report(window_from_samples(samples, policy), policy, baseline_stamp, candidate_stamp, looks)
