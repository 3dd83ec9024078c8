"""What one analysis knows about a window of pairs: counts per category, and a bounded sample for the rest.

Built from the database (rate counts aggregated in SQL over every pair; quantiles, medians and the sign tests
from a uniform random sample) or from pairs in memory (simulations, tests; every pair is the sample): the
statistics in `monitors.analysis.verdicts` see the same thing either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from flags.comparisons import ComparisonStore, key_group
from flags.window_queries import (
    CategoryTally,
    GroupedTally,
    SampledPair,
    WindowSample,
    sample_window,
    tally_window,
)
from monitors.analysis.clustering import GroupedCounts, design_effect, indicator_effect
from monitors.analysis.metric_definitions import RATES
from monitors.analysis.paired_rates import PairedCounts
from monitors.analysis.policy import RatioTolerance, RegressionPolicy, SimilarityTolerance
from monitors.analysis.samples import PairSample

# Paired rate metrics and the judgement field each one counts.
RATE_FIELDS = {metric.name: str(metric.flag) for metric in RATES}
# Rates counted only over pairs whose both answers were checked (value: the field saying so).
CHECKED_BY = {metric.name: metric.checked_by for metric in RATES if metric.checked_by}
# Rates not stored per comparison row: a window read from the database has no counts for them and does not judge them.
SAMPLE_ONLY_RATES = tuple(metric.name for metric in RATES if not metric.stored)
# Pairs drawn for quantiles and medians when the window holds more.
DEFAULT_SAMPLE_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class ShareCount:
    """Pairs beyond a bound, out of how many."""

    beyond: int
    n: int


@dataclass
class CategoryWindow:
    """One category's counts and its share of the sample."""

    category: str
    pairs: int
    rates: dict[str, PairedCounts]
    similarity_below: ShareCount
    length_below: ShareCount
    length_above: ShareCount
    timed_pairs: int
    # Shadows that timed out: in the latency quantiles only, their latency censored at the time waited.
    censored: int = 0
    # From the sample: TTFT of both arms (pairs timed on both sides, timed-out shadows included with a mask
    # saying which values are only lower bounds), similarity and length ratio (compared pairs).
    baseline_ttft: np.ndarray = field(default_factory=lambda: np.empty(0))
    candidate_ttft: np.ndarray = field(default_factory=lambda: np.empty(0))
    baseline_ttft_censored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    candidate_ttft_censored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Whole-answer times, likewise (a timed-out shadow's total is always censored).
    baseline_total: np.ndarray = field(default_factory=lambda: np.empty(0))
    candidate_total: np.ndarray = field(default_factory=lambda: np.empty(0))
    baseline_total_censored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    candidate_total_censored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    similarity: np.ndarray = field(default_factory=lambda: np.empty(0))
    length_ratio: np.ndarray = field(default_factory=lambda: np.empty(0))
    # The sampled pairs of this category and how many distinct routing keys (users) they came from (0: unknown).
    sample_pairs: int = 0
    sample_keys: int = 0
    # Each rate's counts per key group, and the design effect its counts are divided by (1: pairs independent).
    groups: dict[str, GroupedCounts] = field(default_factory=dict)
    design_effects: dict[str, float] = field(default_factory=dict)
    # The same for the sample's shares and quantiles, from the sampled pairs' own keys: similarity_below,
    # length_below, length_above, and {baseline,candidate}_{ttft,total} (each arm's p95).
    sample_effects: dict[str, float] = field(default_factory=dict)

    @property
    def clustered(self) -> bool:
        """Whether some routing key gave more than one of the sampled pairs (sticky routing by user)."""
        return 0 < self.sample_keys < self.sample_pairs


@dataclass
class WindowData:
    """Every category of one window, and how the value sample was drawn."""

    categories: dict[str, CategoryWindow]
    window_pairs: int
    sampled_pairs: int
    exhaustive: bool
    censored: int = 0


@dataclass(frozen=True, slots=True)
class SignBounds:
    """One category's thresholds for the sign tests (None: the policy does not judge that metric)."""

    similarity_min: float | None
    length_min: float | None
    length_max: float | None


def sign_bounds(policy: RegressionPolicy, category: str) -> SignBounds:
    """The policy's sign-test thresholds in force for a category."""
    sim, ratio = policy.tolerance(category, "similarity"), policy.tolerance(category, "length_ratio")
    return SignBounds(sim.min_median if isinstance(sim, SimilarityTolerance) else None,
                      ratio.min if isinstance(ratio, RatioTolerance) else None,
                      ratio.max if isinstance(ratio, RatioTolerance) else None)


def _rate_counts(tally: CategoryTally) -> dict[str, PairedCounts]:
    def counts(n: int, cells: tuple[int, int, int]) -> PairedCounts:
        return PairedCounts(n, *cells)

    rates = {"refusal_rate": counts(tally.pairs, tally.refused),
             "format_break_rate": counts(tally.format_checked, tally.format_broken),
             "repetition_rate": counts(tally.pairs, tally.repetitive)}
    if tally.attempts:
        rates["shadow_failure_rate"] = counts(tally.attempts, tally.failed)
    return rates


def _from_tally(grouped: GroupedTally) -> CategoryWindow:
    tally = grouped.total
    window = CategoryWindow(tally.category, tally.pairs, _rate_counts(tally), ShareCount(0, 0), ShareCount(0, 0),
                            ShareCount(0, 0), tally.timed_pairs, tally.censored)
    _add_groups(window, window.rates, [_rate_counts(t) for t in grouped.groups.values()])
    return window


def _add_groups(window: CategoryWindow, rates: dict[str, PairedCounts],
                per_group: list[dict[str, PairedCounts]]) -> None:
    """Each of `rates` counted per key group (a group without the rate counts zero)."""
    for name in rates:
        cells = np.array([[g[name].worse, g[name].better, g[name].n] if name in g else [0, 0, 0] for g in per_group],
                         dtype=float).reshape(-1, 3)
        window.groups[name] = GroupedCounts(cells[:, 0], cells[:, 1], cells[:, 2])


def _set_design_effects(window: CategoryWindow) -> None:
    """Rao-Scott design effects of the rates, where the sample shows one user's pairs together."""
    window.design_effects = {name: design_effect(grouped) if window.clustered else 1.0
                             for name, grouped in window.groups.items()}


def _attach_sample(categories: dict[str, CategoryWindow], pairs: Iterable[SampledPair],
                   policy: RegressionPolicy) -> None:
    grouped: dict[str, list[SampledPair]] = {}
    for pair in pairs:
        grouped.setdefault(pair.category, []).append(pair)
    for name, group in grouped.items():
        window = categories.get(name)
        if window is None:
            continue
        timed = [p for p in group if p.baseline_ttft_s and p.candidate_ttft_s]
        window.baseline_ttft = np.array([p.baseline_ttft_s for p in timed], dtype=float)
        window.candidate_ttft = np.array([p.candidate_ttft_s for p in timed], dtype=float)
        window.baseline_ttft_censored = np.array([p.ttft_censored and p.censored_arm == "baseline" for p in timed],
                                                 dtype=bool)
        window.candidate_ttft_censored = np.array([p.ttft_censored and p.censored_arm == "candidate"
                                                   for p in timed], dtype=bool)
        totals = [p for p in group if p.baseline_total_s and p.candidate_total_s]
        window.baseline_total = np.array([p.baseline_total_s for p in totals], dtype=float)
        window.candidate_total = np.array([p.candidate_total_s for p in totals], dtype=float)
        window.baseline_total_censored = np.array([p.censored_arm == "baseline" for p in totals], dtype=bool)
        window.candidate_total_censored = np.array([p.censored_arm == "candidate" for p in totals], dtype=bool)
        window.sample_pairs = len(group)
        window.sample_keys = len({p.routing_key_hash for p in group if p.routing_key_hash})
        _set_design_effects(window)
        compared = [p for p in group if p.censored_arm is None]
        window.similarity = np.array([p.similarity for p in compared], dtype=float)
        window.length_ratio = np.array([p.length_ratio for p in compared if p.length_ratio is not None], dtype=float)
        bounds = sign_bounds(policy, name)
        _count_signs(window, bounds)
        if window.clustered:
            keys = _Keys(np.array([p.routing_key_hash or "" for p in compared]),
                         np.array([p.routing_key_hash or "" for p in compared if p.length_ratio is not None]),
                         np.array([p.routing_key_hash or "" for p in timed]),
                         np.array([p.routing_key_hash or "" for p in totals]))
            window.sample_effects = _sample_effects(window, bounds, keys)


@dataclass(frozen=True, slots=True)
class _Keys:
    """The routing key of each value in a category's sampled arrays."""

    compared: np.ndarray
    ratios: np.ndarray
    timed: np.ndarray
    totals: np.ndarray


def _sample_effects(window: CategoryWindow, bounds: SignBounds, keys: _Keys) -> dict[str, float]:
    """Design effects of the sign tests' shares and of each arm's p95 (the share at or below it, as Woodruff's
    interval for a quantile under a clustered design)."""
    effects: dict[str, float] = {}
    if bounds.similarity_min is not None:
        effects["similarity_below"] = indicator_effect(window.similarity < bounds.similarity_min, keys.compared)
    if bounds.length_min is not None:
        effects["length_below"] = indicator_effect(window.length_ratio < bounds.length_min, keys.ratios)
    if bounds.length_max is not None:
        effects["length_above"] = indicator_effect(window.length_ratio > bounds.length_max, keys.ratios)
    for times, arm_keys in (("ttft", keys.timed), ("total", keys.totals)):
        for arm in ("baseline", "candidate"):
            values = getattr(window, f"{arm}_{times}")
            if values.size:
                effects[f"{arm}_{times}"] = indicator_effect(values <= np.percentile(values, 95), arm_keys)
    return effects


def _count_signs(window: CategoryWindow, bounds: SignBounds) -> None:
    """Sign-test counts from the sample (an empty candidate answer, ratio 0, counts as below: never dropped)."""
    sims, ratios = window.similarity, window.length_ratio

    def beyond(values: np.ndarray, limit: float | None, below: bool) -> ShareCount:
        if limit is None:
            return ShareCount(0, int(values.size))
        return ShareCount(int(np.sum(values < limit if below else values > limit)), int(values.size))

    window.similarity_below = beyond(sims, bounds.similarity_min, True)
    window.length_below = beyond(ratios, bounds.length_min, True)
    window.length_above = beyond(ratios, bounds.length_max, False)


def window_from_store(store: ComparisonStore, since: datetime, until: datetime | None, policy: RegressionPolicy,
                      sample_size: int = DEFAULT_SAMPLE_SIZE) -> WindowData:
    """Counts of every pair in the window (SQL aggregates) and a bounded uniform sample of their values."""
    grouped = tally_window(store, since, until)
    categories = {t.category: _from_tally(t) for t in grouped}
    tallies = [t.total for t in grouped]
    rows = sum(t.pairs + t.censored for t in tallies)
    sample: WindowSample = sample_window(store, since, until, sample_size, rows)
    _attach_sample(categories, sample.pairs, policy)
    return WindowData(categories, sum(t.pairs for t in tallies), len(sample.pairs), sample.exhaustive,
                      sum(t.censored for t in tallies))


def _cells(key: str, kept: list[PairSample]) -> tuple[int, int, int]:
    """Pairs where only the candidate, only the baseline, and both have the flag `key`."""
    base = np.array([bool(s.baseline.get(key)) for s in kept], dtype=bool)
    cand = np.array([bool(s.candidate.get(key)) for s in kept], dtype=bool)
    return int(np.sum(cand & ~base)), int(np.sum(base & ~cand)), int(np.sum(base & cand))


def _checked_on_both(group: list[PairSample], checked: str) -> list[PairSample]:
    return [s for s in group if s.baseline.get(checked) and s.candidate.get(checked)]


def _tally_samples(category: str, group: list[PairSample]) -> CategoryTally:
    answered = [s for s in group if s.failed_arm is None]
    checked = _checked_on_both(answered, CHECKED_BY["format_break_rate"])
    # Failures are counted only where the samples say whether a shadow failed (a simulation, a stored window).
    tracked = [s for s in group if s.failed_arm is not None or s.shadow_tracked]
    failed = (sum(s.failed_arm == "candidate" for s in tracked), sum(s.failed_arm == "baseline" for s in tracked), 0)
    return CategoryTally(
        category, len(answered), _cells("refused", answered), len(checked), _cells("format_broken", checked),
        _cells("repetitive", answered), sum(s.length_ratio is not None for s in answered),
        sum(bool(s.baseline_ttft_s and s.candidate_ttft_s) for s in answered), 0, len(tracked), failed)


def _checked_rates(group: list[PairSample]) -> dict[str, PairedCounts]:
    """Paired counts of the rates that only some answers are checked for (pairs checked on both sides)."""
    rates = {}
    answered = [s for s in group if s.failed_arm is None]
    for metric in SAMPLE_ONLY_RATES:
        # A rate over every answer (no `checked_by`) counts every pair.
        kept = _checked_on_both(answered, CHECKED_BY[metric]) if metric in CHECKED_BY else answered
        if kept:
            rates[metric] = PairedCounts(len(kept), *_cells(RATE_FIELDS[metric], kept))
    return rates


def _key_of(sample: PairSample, index: int) -> str:
    """The sample's routing key; one of its own when it has none (then every pair is its own unit)."""
    return sample.routing_key if sample.routing_key is not None else f"pair-{index}"


def _category_from_samples(name: str, group: list[tuple[str, PairSample]]) -> CategoryWindow:
    by_group: dict[int, list[PairSample]] = {}
    for key, sample in group:
        by_group.setdefault(key_group(key), []).append(sample)
    samples = [sample for _, sample in group]
    window = _from_tally(GroupedTally(_tally_samples(name, samples),
                                      {g: _tally_samples(name, members) for g, members in by_group.items()}))
    checked = _checked_rates(samples)
    window.rates.update(checked)
    _add_groups(window, checked, [_checked_rates(members) for members in by_group.values()])
    return window


def window_from_samples(samples: list[PairSample], policy: RegressionPolicy) -> WindowData:
    """The same view of pairs held in memory (every pair is in the sample)."""
    keyed = [(_key_of(sample, i), sample) for i, sample in enumerate(samples)]
    grouped: dict[str, list[tuple[str, PairSample]]] = {}
    for key, sample in keyed:
        grouped.setdefault(sample.category, []).append((key, sample))
    categories = {name: _category_from_samples(name, group) for name, group in grouped.items()}
    answered = [s for s in samples if s.failed_arm is None]
    _attach_sample(categories, (SampledPair(s.category, s.similarity, s.length_ratio, s.baseline_ttft_s,
                                            s.candidate_ttft_s, routing_key_hash=s.routing_key) for s in answered),
                   policy)
    return WindowData(categories, len(answered), len(answered), exhaustive=True)
