"""Unpaired verdicts from live traffic per variant, for when shadowing is off.

Read from the gateway's own Prometheus registry (all workers in multiprocess mode), per routing stratum:
the candidate's traffic share when each request was routed. Arms are only compared within a stratum, never
pooled across a change of the split (a ramp from 10% to 50% while the base rate moves would otherwise read
as a difference between the arms). Rates: Mantel-Haenszel risk difference across strata with Sato's
variance (`monitors.analysis.stratified`) as the estimate. TTFT p95: histogram order statistics widened to bucket
edges, in the stratum holding the most requests of both arms. Bounds one-sided at α/m over the m tests of the
analysis. Read at any time (the default, as `/admin/verdicts` is reloaded): rate intervals from a betting
confidence sequence on inverse-propensity differences (each stratum's routing share is known, so each answer's
arm is a coin of known bias) and p95 ranks from a confidence sequence; `looks="single"` gives Sato's
fixed-sample interval and binomial ranks instead.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from scipy import stats as sps

from flags.bucketing import LIVE_KEY_GROUPS
from monitors.analysis import confidence_sequences as cs
from monitors.analysis.clustering import GroupedCounts, design_effect, effective_ranks
from monitors.analysis.metric_definitions import METRICS
from monitors.analysis.policy import LatencyTolerance, RateTolerance, RegressionPolicy
from monitors.analysis.stats import Estimate
from monitors.analysis.stratified import RateStratum, stratified_rates
from monitors.analysis.verdicts import ANYTIME, INTERVAL_KINDS, SINGLE, Verdict, screened
from monitors.strata_labels import (
    FEEDBACK_OUTCOME,
    KEY_GROUP_ITL_SERIES,
    KEY_GROUP_SERIES,
    KEY_GROUP_TTFT_SERIES,
    OVERFLOW,
)

# What live traffic measures: the counted rates, and TTFT from its histogram (the only latency recorded per answer).
_LIVE = tuple(metric for metric in METRICS if metric.live)
_Key = tuple[str, str, str]  # variant, category, stratum
# Live latencies judged by their p95 from histograms.
_P95_METRICS = ("ttft_p95", "itl_p95")
_RATE_METHODS = {
    ANYTIME: "unpaired, within routing strata: Mantel-Haenszel estimate; interval and p-value from betting on "
             "inverse-propensity differences (the routing share is known)",
    SINGLE: "unpaired, within routing strata: Mantel-Haenszel risk difference, Sato variance",
}


@dataclass
class LiveCounts:
    """Outcome counters and TTFT buckets per (variant, category, stratum)."""

    counts: dict[_Key, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    ttft: dict[_Key, dict[float, float]] = field(default_factory=lambda: defaultdict(dict))
    # Outcome counters per (variant, category) and routing-key group, across strata: the design effect's input.
    groups: dict[tuple[str, str], dict[int, dict[str, float]]] = field(default_factory=lambda: defaultdict(dict))
    # TTFTs per (variant, category), key group and bucket upper edge (not cumulative), across strata.
    ttft_groups: dict[tuple[str, str], dict[int, dict[float, float]]] = field(
        default_factory=lambda: defaultdict(dict))
    # Inter-token latency (mean per streamed answer), as TTFT is kept: per stratum, and per key group.
    itl: dict[_Key, dict[float, float]] = field(default_factory=lambda: defaultdict(dict))
    itl_groups: dict[tuple[str, str], dict[int, dict[float, float]]] = field(
        default_factory=lambda: defaultdict(dict))

    def histograms(self, times: str) -> dict[_Key, dict[float, float]]:
        """The cumulative histograms per stratum of a latency (`ttft` or `itl`)."""
        return self.itl if times == "itl" else self.ttft

    def latency_groups(self, times: str) -> dict[tuple[str, str], dict[int, dict[float, float]]]:
        """The per-key-group buckets of a latency."""
        return self.itl_groups if times == "itl" else self.ttft_groups

    def design_effect(self, variant: str, category: str, hits: str, total: str) -> float | None:
        """Rao-Scott design effect of one arm's rate from its key groups (None: no key groups were counted)."""
        groups = self.groups.get((variant, category))
        if not groups:
            return None
        cells = np.array([[g.get(hits, 0.0), g.get(total, 0.0)] for g in groups.values()], dtype=float)
        return design_effect(GroupedCounts(cells[:, 0], np.zeros(len(cells)), cells[:, 1]))

    def ttft_design_effect(self, variant: str, category: str, quantile: float, times: str = "ttft") -> float | None:
        """Design effect of one arm's share of TTFTs (or ITLs) at or below `quantile` (Woodruff's interval for it),
        from the key groups' buckets; None when they were counted without key groups."""
        groups = self.latency_groups(times).get((variant, category))
        if not groups:
            return None
        hits = [sum(n for edge, n in buckets.items() if edge <= quantile) for buckets in groups.values()]
        totals = [sum(buckets.values()) for buckets in groups.values()]
        return design_effect(GroupedCounts(np.array(hits, dtype=float), np.zeros(len(hits)),
                                           np.array(totals, dtype=float)))

    def strata(self, category: str) -> list[str]:
        """The strata of a category (the overflow label left out: it may mix several splits)."""
        return sorted({s for (_, c, s) in (*self.counts, *self.ttft, *self.itl) if c == category and s != OVERFLOW})


def read_live_counts(registry: CollectorRegistry) -> LiveCounts:
    """Snapshot the stratified primary-answer counters and TTFT histograms."""
    live = LiveCounts()
    for family in registry.collect():
        for sample in family.samples:
            labels = sample.labels
            key = (labels.get("variant", ""), labels.get("category", ""), labels.get("stratum", ""))
            if sample.name == "quantgate_live_answers_total":
                live.counts[key][labels["outcome"]] = sample.value
            elif sample.name == "quantgate_live_ttft_seconds_bucket":
                live.ttft[key][float(labels["le"])] = sample.value
            elif sample.name == "quantgate_live_itl_seconds_bucket":
                live.itl[key][float(labels["le"])] = sample.value
            elif sample.name == "quantgate_feedback_total":
                live.counts[key][f"{FEEDBACK_OUTCOME}{labels['signal']}"] = sample.value
            elif sample.name == f"{KEY_GROUP_SERIES}_total":
                group = live.groups[(key[0], key[1])].setdefault(int(labels["key_group"]), {})
                group[labels["outcome"]] = sample.value
            elif sample.name in (f"{KEY_GROUP_TTFT_SERIES}_total", f"{KEY_GROUP_ITL_SERIES}_total"):
                kind = live.ttft_groups if sample.name.startswith(KEY_GROUP_TTFT_SERIES) else live.itl_groups
                buckets = kind[(key[0], key[1])].setdefault(int(labels["key_group"]), {})
                buckets[float(labels["le"])] = sample.value
    return live


def _quantile(bounds: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Prometheus-style histogram_quantile from per-bucket (not cumulative) counts."""
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    if total == 0:
        return float("nan")
    rank = q * total
    i = int(np.searchsorted(cumulative, rank))
    if i >= len(bounds) - 1:
        return float(bounds[-2])  # +Inf bucket: the highest finite bound, as Prometheus does
    lower = 0.0 if i == 0 else bounds[i - 1]
    before = 0.0 if i == 0 else cumulative[i - 1]
    return float(lower + (bounds[i] - lower) * (rank - before) / max(counts[i], 1e-12))


def histogram_quantile(cumulative: dict[float, float], q: float) -> float:
    """The q-quantile of a cumulative Prometheus histogram (`le` -> count), as `histogram_quantile` computes it."""
    bounds = np.array(sorted(cumulative))
    counts = np.diff(np.concatenate(([0.0], [cumulative[b] for b in bounds])))
    return _quantile(bounds, counts, q)


def _bucket_quantile_interval(bounds: np.ndarray, counts: np.ndarray, q: float, alpha: float,
                              looks: str = SINGLE, design: float = 1.0) -> tuple[float, float]:
    """Interval of the q-quantile from bucketed counts: the order statistics' ranks (binomial, as in
    `monitors.analysis.stats.quantile_interval`, or from a confidence sequence when read at any time; allowing for
    the design effect as `clustering.effective_ranks` does) widened to the edges of the buckets they fall in."""
    n = int(counts.sum())

    def ranks(m: int) -> tuple[int, int]:
        if looks == ANYTIME:
            return cs.quantile_ranks(m, q, alpha / 2)
        return int(sps.binom.ppf(alpha / 2, m, q)), int(sps.binom.ppf(1 - alpha / 2, m, q)) + 1

    lower_rank, upper_rank = effective_ranks(n, design, ranks)
    cumulative = np.cumsum(counts)
    low = 0.0
    if lower_rank >= 1:
        i = int(np.searchsorted(cumulative, lower_rank))
        low = 0.0 if i == 0 else float(bounds[i - 1])
    high = float("inf")
    if upper_rank <= n:
        j = int(np.searchsorted(cumulative, upper_rank))
        high = float(bounds[j]) if j < len(bounds) - 1 else float("inf")
    return low, high


def _p95_change(base: dict[float, float], cand: dict[float, float], alpha: float, looks: str = SINGLE,
                design: Callable[[str, float], float] | None = None) -> Estimate:
    """p95 change between the arms' histograms; `design(arm, p95)` the arm's design effect at its p95."""
    bounds = np.array(sorted(set(base) | set(cand)))
    per_bucket = {}
    for name, hist in (("base", base), ("cand", cand)):
        cumulative = np.array([hist.get(b, 0.0) for b in bounds])
        per_bucket[name] = np.diff(np.concatenate(([0.0], cumulative)))
    nb, nc = int(per_bucket["base"].sum()), int(per_bucket["cand"].sum())
    if nb == 0 or nc == 0:
        return Estimate(min(nb, nc), 0.0, float("-inf"), float("inf"), 1.0, 0.0, 0.0)
    qb, qc = _quantile(bounds, per_bucket["base"], 0.95), _quantile(bounds, per_bucket["cand"], 0.95)
    # Bonferroni over the two arms, as for the paired p95: exact at any level, unlike a bootstrap's far tails.
    d_b, d_c = (1.0, 1.0) if design is None else (design("baseline", qb), design("candidate", qc))
    low_b, high_b = _bucket_quantile_interval(bounds, per_bucket["base"], 0.95, alpha / 2, looks, d_b)
    low_c, high_c = _bucket_quantile_interval(bounds, per_bucket["cand"], 0.95, alpha / 2, looks, d_c)
    low = low_c / high_b - 1 if np.isfinite(high_b) else -1.0
    high = high_c / low_b - 1 if low_b > 0 else float("inf")
    return Estimate(min(nb, nc), qc / qb - 1, float(low), float(high), 1.0, qb, qc)


def _rate_strata(live: LiveCounts, category: str, hits: str, total: str, design: float = 1.0) -> list[RateStratum]:
    """Both arms' counts per stratum divided by the design effect (Rao & Scott 1992). One factor for both arms, the
    larger of theirs: the betting sequence weighs each answer by the known routing share, which dividing the arms
    by different factors would no longer match."""
    strata = []
    for stratum in live.strata(category):
        base = live.counts.get(("baseline", category, stratum), {})
        cand = live.counts.get(("candidate", category, stratum), {})
        strata.append(RateStratum(cand.get(hits, 0) / design, cand.get(total, 0) / design,  # type: ignore[arg-type]
                                  base.get(hits, 0) / design, base.get(total, 0) / design))  # type: ignore[arg-type]
    return strata


def _ttft_design(live: LiveCounts, category: str, times: str = "ttft") -> Callable[[str, float], float] | None:
    """Each arm's design effect at its p95, or None when the latency was counted without key groups."""
    if not any(key[1] == category for key in live.latency_groups(times)):
        return None
    return lambda arm, p95: live.ttft_design_effect(arm, category, p95, times) or 1.0


def _ttft_designs(live: LiveCounts, category: str, base: dict[float, float],
                  cand: dict[float, float], times: str = "ttft") -> tuple[float, float]:
    """(candidate, baseline) design effects at each arm's p95, for the verdict."""
    effects = []
    for arm, hist in (("candidate", cand), ("baseline", base)):
        edges = np.array(sorted(hist))
        counts = np.diff(np.concatenate(([0.0], [hist[e] for e in edges])))
        effects.append(live.ttft_design_effect(arm, category, _quantile(edges, counts, 0.95), times) or 1.0
                       if counts.sum() else 1.0)
    return effects[0], effects[1]


def _arm_designs(live: LiveCounts, category: str, hits: str, total: str) -> tuple[float, float] | None:
    """(candidate, baseline) design effects of a live rate; None when answers were counted without key groups."""
    effects = [live.design_effect(variant, category, hits, total) for variant in ("candidate", "baseline")]
    if effects[0] is None and effects[1] is None:
        return None
    return effects[0] or 1.0, effects[1] or 1.0


def _busiest_histograms(live: LiveCounts, category: str,
                        times: str = "ttft") -> tuple[dict[float, float], dict[float, float]]:
    """Both arms' TTFT (or ITL) histograms in the stratum where the smaller arm is largest."""
    best: tuple[float, dict[float, float], dict[float, float]] = (-1.0, {}, {})
    histograms = live.histograms(times)
    for stratum in live.strata(category):
        base = histograms.get(("baseline", category, stratum), {})
        cand = histograms.get(("candidate", category, stratum), {})
        size = min(max(base.values(), default=0.0), max(cand.values(), default=0.0))
        if size > best[0]:
            best = (size, base, cand)
    return best[1], best[2]


def _anytime_rates(strata: list[RateStratum], shares: list[float], alpha: float, margin: float) -> Estimate:
    """The stratified point estimate with an anytime-valid interval and p-value (randomisation-based betting)."""
    point = stratified_rates(strata, alpha, margin)
    arms = [cs.ArmStratum(share, s.candidate_events, s.candidate_n, s.baseline_events, s.baseline_n)
            for share, s in zip(shares, strata, strict=True) if 0 < share < 1]
    low, high = cs.ipw_interval(arms, alpha / 2)
    usable = [a for a in arms if a.candidate_n + a.baseline_n]
    p_value = min(1.0, math.exp(-cs.ipw_log_capital(usable, margin))) if usable else 1.0
    return Estimate(point.n, point.effect, low, high, p_value, point.baseline, point.candidate)


def _rate_estimator(strata: list[RateStratum], shares: list[float], margin: float,
                    looks: str) -> Callable[[float], Estimate]:
    if looks == ANYTIME:
        return lambda a: _anytime_rates(strata, shares, a, margin)
    return lambda a: stratified_rates(strata, a, margin)


@dataclass(frozen=True)
class _LiveTest:
    """One live (category, metric) test: how many answers it rests on, and its estimate at a given alpha."""

    category: str
    metric: str
    tolerance: Any
    n: int
    estimate: Callable[[float], Estimate]
    # (candidate, baseline) design effects the counts were divided by; None: no key groups, taken as independent.
    design: tuple[float, float] | None = None

    @property
    def unit(self) -> str:
        """What one observation is, and how the interval allows for one user's answers together."""
        if self.design is None:
            return "answer (no routing-key groups counted: taken as independent)"
        if self.metric in _P95_METRICS:
            what = "TTFTs" if self.metric == "ttft_p95" else "inter-token latencies"
            return (f"user (routing key): {what} counted in {LIVE_KEY_GROUPS} key groups; design effect at the p95 "
                    f"candidate {self.design[0]:.2f}, baseline {self.design[1]:.2f} (Woodruff, Rao-Scott): each arm's "
                    "order-statistic ranks allow for its own")
        return (f"user (routing key): answers counted in {LIVE_KEY_GROUPS} key groups; design effect candidate "
                f"{self.design[0]:.2f}, baseline {self.design[1]:.2f} (Rao-Scott): both arms' counts divided by the "
                "larger")


def _rate_n(strata: list[RateStratum]) -> int:
    usable = [s for s in strata if s.candidate_n and s.baseline_n]
    return min(sum(s.candidate_n for s in usable), sum(s.baseline_n for s in usable)) if usable else 0


def _live_plan(live: LiveCounts, policy: RegressionPolicy, looks: str = ANYTIME) -> list[_LiveTest]:
    """Every live metric the policy judges, with its size known before any estimate is computed."""
    plan: list[_LiveTest] = []
    for category in sorted({c for (_, c, _) in (*live.counts, *live.ttft, *live.itl)}):
        for metric in _LIVE:
            tol = policy.tolerance(category, metric.name)
            if metric.is_rate and isinstance(tol, RateTolerance):
                plan.append(_rate_test(live, category, metric.name, tol, metric.live_outcomes, looks))
            elif metric.times in ("ttft", "itl") and isinstance(tol, LatencyTolerance):
                plan.append(_latency_test(live, category, metric.name, str(metric.times), tol, looks))
        # Feedback events per answer served, like any other live rate (`POST /v1/feedback`).
        for signal, declared in sorted(policy.feedback.items()):
            if (signal_tol := declared.tolerance(category)) is not None:
                plan.append(_rate_test(live, category, f"{FEEDBACK_OUTCOME}{signal}", signal_tol,
                                       (f"{FEEDBACK_OUTCOME}{signal}", "judged"), looks))
    return plan


def _latency_test(live: LiveCounts, category: str, metric: str, times: str, tol: LatencyTolerance,
                  looks: str) -> _LiveTest:
    """One live p95 (TTFT or inter-token latency) in the busiest stratum, each arm's ranks allowing for its design
    effect."""
    base, cand = _busiest_histograms(live, category, times)
    # Cumulative buckets: the largest count is the +Inf bucket, the arm's total.
    n = int(min(max(base.values(), default=0.0), max(cand.values(), default=0.0)))
    design = _ttft_design(live, category, times)
    return _LiveTest(category, metric, tol, n, lambda a, b=base, c=cand, d=design: _p95_change(b, c, a, looks, d),
                     None if design is None else _ttft_designs(live, category, base, cand, times))


def _rate_test(live: LiveCounts, category: str, metric: str, tol: RateTolerance, outcomes: tuple[str, str],
               looks: str) -> _LiveTest:
    """One live rate: events over answers per stratum, both arms divided by their key groups' design effect."""
    design = _arm_designs(live, category, *outcomes)
    strata = _rate_strata(live, category, *outcomes, max(design or (1.0,)))
    shares = [float(label) / 100 for label in live.strata(category)]
    return _LiveTest(category, metric, tol, round(_rate_n(_rate_strata(live, category, *outcomes))),
                     _rate_estimator(strata, shares, tol.max_increase_pp / 100, looks), design)


def feedback_estimate(live: LiveCounts, category: str, signal: str, tol: RateTolerance,
                      looks: str = ANYTIME) -> tuple[int, Callable[[float], Estimate], float]:
    """One feedback signal's live test in a category: its answers, its estimate at a given two-sided alpha, and the
    design effect its counts were divided by."""
    outcome = f"{FEEDBACK_OUTCOME}{signal}"
    test = _rate_test(live, category, outcome, tol, (outcome, "judged"), looks)
    return test.n, test.estimate, max(test.design or (1.0,))


def live_tests(live: LiveCounts, policy: RegressionPolicy) -> int:
    """How many live (category, metric) tests have enough answers to run (for the analysis' shared family)."""
    return sum(test.n >= policy.min_samples(test.category) for test in _live_plan(live, policy))


def live_categories(live: LiveCounts) -> set[str]:
    """The categories live traffic has counts for."""
    return {c for (_, c, _) in (*live.counts, *live.ttft, *live.itl)}


def unpaired_verdicts(live: LiveCounts, policy: RegressionPolicy, other_tests: int = 0,
                      looks: str = ANYTIME, family: int | None = None) -> list[Verdict]:
    """Verdicts per category and metric from live traffic, each against its tolerance, family-wise at α: over
    `family` tests fixed in advance, else over those with enough answers plus `other_tests` run elsewhere."""
    plan = _live_plan(live, policy, looks)
    tested = [test.n >= policy.min_samples(test.category) for test in plan]
    family = family if family is not None else max(1, sum(tested) + other_tests)
    side = policy.significance / family
    verdicts = []
    for test, enough in zip(plan, tested, strict=True):
        est = test.estimate(2 * side)
        method = (_RATE_METHODS[looks] if test.metric not in _P95_METRICS else
                  "unpaired, busiest routing stratum: histogram p95, order-statistic interval to bucket edges")
        verdicts.append(Verdict(test.category, test.metric, screened(est, test.tolerance, enough), est.effect,
                                (est.low, est.high), test.n, est.baseline, est.candidate,
                                test.tolerance.model_dump(), est.p_value,
                                p_adjusted=min(1.0, est.p_value * family) if est.n else None,
                                method=method, interval_level=1 - 2 * side, interval_kind=INTERVAL_KINDS[looks],
                                unit=test.unit, design_effect=max(test.design or (1.0,)),
                                # Rate counts were divided by it already; the p95's n was not.
                                independent_n=est.n if test.metric not in _P95_METRICS else
                                est.n / max(test.design or (1.0,))))
    return verdicts


def live_window(live: LiveCounts) -> dict[str, Any]:
    """What the live verdicts were computed on, for the report."""
    categories = sorted({c for (_, c, _) in (*live.counts, *live.ttft, *live.itl)})
    overflow = sum(v.get("judged", 0.0) for (_, _, s), v in live.counts.items() if s == OVERFLOW)
    return {"basis": "since the server started, per routing stratum (candidate share % when routed); arms are "
                     "compared within a stratum, never pooled across a change of the split",
            "strata": {c: live.strata(c) for c in categories}, "answers_left_out": int(overflow)}
