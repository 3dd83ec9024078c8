"""What one analysis knows about a window of pairs: counts per category, and a bounded sample for quantiles.

Built from the database (counts aggregated in SQL, values from a uniform random sample) or from pairs in
memory (simulations, tests): the statistics in `monitors.verdicts` see the same thing either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from monitors.paired_rates import PairedCounts
from monitors.policy import RatioTolerance, RegressionPolicy, SimilarityTolerance
from monitors.samples import PairSample
from shadow.records import ComparisonStore
from shadow.window_queries import (
    BoundsByCategory,
    CategoryTally,
    SampledPair,
    SignBounds,
    WindowSample,
    sample_window,
    tally_window,
)

# Paired rate metrics and the judgement field each one counts.
RATE_FIELDS = {"refusal_rate": "refused", "format_break_rate": "format_broken", "repetition_rate": "repetitive"}
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
    similarity: np.ndarray = field(default_factory=lambda: np.empty(0))
    length_ratio: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class WindowData:
    """Every category of one window, and how the value sample was drawn."""

    categories: dict[str, CategoryWindow]
    window_pairs: int
    sampled_pairs: int
    exhaustive: bool
    censored: int = 0


def sign_bounds(policy: RegressionPolicy) -> BoundsByCategory:
    """The policy's sign-test thresholds per named category and by default, as plain numbers for the query."""

    def of(category: str | None) -> SignBounds:
        if category is None:
            sim, ratio = policy.defaults.similarity, policy.defaults.length_ratio
        else:
            sim, ratio = policy.tolerance(category, "similarity"), policy.tolerance(category, "length_ratio")
        return SignBounds(sim.min_median if isinstance(sim, SimilarityTolerance) else None,
                          ratio.min if isinstance(ratio, RatioTolerance) else None,
                          ratio.max if isinstance(ratio, RatioTolerance) else None)

    return BoundsByCategory(of(None), {category: of(category) for category in policy.categories})


def _from_tally(tally: CategoryTally) -> CategoryWindow:
    def counts(n: int, cells: tuple[int, int, int]) -> PairedCounts:
        return PairedCounts(n, *cells)

    return CategoryWindow(
        tally.category, tally.pairs,
        {"refusal_rate": counts(tally.pairs, tally.refused),
         "format_break_rate": counts(tally.format_checked, tally.format_broken),
         "repetition_rate": counts(tally.pairs, tally.repetitive)},
        ShareCount(tally.similarity_below, tally.pairs), ShareCount(tally.length_below, tally.length_pairs),
        ShareCount(tally.length_above, tally.length_pairs), tally.timed_pairs, tally.censored)


def _attach_sample(categories: dict[str, CategoryWindow], pairs: Iterable[SampledPair]) -> None:
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
        compared = [p for p in group if p.censored_arm is None]
        window.similarity = np.array([p.similarity for p in compared], dtype=float)
        window.length_ratio = np.array([p.length_ratio for p in compared if p.length_ratio is not None], dtype=float)


def window_from_store(store: ComparisonStore, since: datetime, until: datetime | None, policy: RegressionPolicy,
                      sample_size: int = DEFAULT_SAMPLE_SIZE, seed: int = 0) -> WindowData:
    """Counts of every pair in the window (SQL aggregates) and a bounded uniform sample of their values."""
    tallies = tally_window(store, since, until, sign_bounds(policy))
    categories = {t.category: _from_tally(t) for t in tallies}
    rows = sum(t.pairs + t.censored for t in tallies)
    sample: WindowSample = sample_window(store, since, until, sample_size, rows, seed)
    _attach_sample(categories, sample.pairs)
    return WindowData(categories, sum(t.pairs for t in tallies), len(sample.pairs), sample.exhaustive,
                      sum(t.censored for t in tallies))


def _tally_samples(category: str, group: list[PairSample], policy: RegressionPolicy) -> CategoryTally:
    bounds = sign_bounds(policy)
    own = bounds.named.get(category, bounds.default)

    def triple(key: str, kept: list[PairSample]) -> tuple[int, int, int]:
        base = np.array([bool(s.baseline.get(key)) for s in kept], dtype=bool)
        cand = np.array([bool(s.candidate.get(key)) for s in kept], dtype=bool)
        return int(np.sum(cand & ~base)), int(np.sum(base & ~cand)), int(np.sum(base & cand))

    checked = [s for s in group if s.baseline.get("format_checked") and s.candidate.get("format_checked")]
    ratios = np.array([s.length_ratio for s in group if s.length_ratio is not None], dtype=float)
    similarity = np.array([s.similarity for s in group], dtype=float)
    return CategoryTally(
        category, len(group), triple("refused", group), len(checked), triple("format_broken", checked),
        triple("repetitive", group),
        int(np.sum(similarity < own.similarity_min)) if own.similarity_min is not None else 0,
        int(ratios.size), int(np.sum(ratios < own.length_min)) if own.length_min is not None else 0,
        int(np.sum(ratios > own.length_max)) if own.length_max is not None else 0,
        sum(bool(s.baseline_ttft_s and s.candidate_ttft_s) for s in group))


def window_from_samples(samples: list[PairSample], policy: RegressionPolicy) -> WindowData:
    """The same view of pairs held in memory (every pair is in the sample)."""
    grouped: dict[str, list[PairSample]] = {}
    for sample in samples:
        grouped.setdefault(sample.category, []).append(sample)
    categories = {name: _from_tally(_tally_samples(name, group, policy)) for name, group in grouped.items()}
    _attach_sample(categories, (SampledPair(s.category, s.similarity, s.length_ratio, s.baseline_ttft_s,
                                            s.candidate_ttft_s) for s in samples))
    return WindowData(categories, len(samples), len(samples), exhaustive=True)
