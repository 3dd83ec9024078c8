"""What verdicts read from a window of stored pairs, computed in the database.

Rate tests need only counts per category. Whole hours come from the rollup table the database's own triggers
keep (`quantgate_comparison_rollup`, every insert and purge, whoever wrote the rows), the partial hours at the
window's ends from one `GROUP BY` over the rows themselves; SQLite and PostgreSQL alike. Quantiles, medians
and the sign tests need values: they come from a sample of the window bounded in size, each pair kept when a
fixed hash of its id falls below a threshold (nested as a window grows; fetched by primary key), and the sample
says how large it is and what it was drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select

from flags.comparisons import ComparisonRollupRow, ComparisonStore, ShadowComparisonRow
from flags.model import utcnow

_T = ShadowComparisonRow.__table__.c  # type: ignore[attr-defined]
_FETCH_CHUNK = 5_000
_EDGE_ROWS = 1_000  # rows written out of created_at order at the window's edges (batched writers)


@dataclass(frozen=True, slots=True)
class CategoryTally:
    """Per-category counts of a window. Rate triples are (only candidate, only baseline, both)."""

    category: str
    pairs: int
    refused: tuple[int, int, int]
    format_checked: int
    format_broken: tuple[int, int, int]
    repetitive: tuple[int, int, int]
    length_pairs: int
    timed_pairs: int
    # Shadows that timed out (not in any count above; their latencies enter the quantiles as censored).
    censored: int = 0
    # Every shadow that ended (compared or failed), and the failed ones by the arm that failed: (candidate,
    # baseline, both; the last always 0, only the shadow arm can fail in a stored pair).
    attempts: int = 0
    failed: tuple[int, int, int] = (0, 0, 0)

    def __add__(self, other: CategoryTally) -> CategoryTally:
        def add(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
            return a[0] + b[0], a[1] + b[1], a[2] + b[2]

        return CategoryTally(self.category, self.pairs + other.pairs, add(self.refused, other.refused),
                             self.format_checked + other.format_checked, add(self.format_broken, other.format_broken),
                             add(self.repetitive, other.repetitive), self.length_pairs + other.length_pairs,
                             self.timed_pairs + other.timed_pairs, self.censored + other.censored,
                             self.attempts + other.attempts, add(self.failed, other.failed))


@dataclass(frozen=True, slots=True)
class GroupedTally:
    """A category's counts, in all and per key group (groups of routing keys: the independent units)."""

    total: CategoryTally
    groups: dict[int, CategoryTally]

    @property
    def category(self) -> str:
        """The category counted."""
        return self.total.category


@dataclass(frozen=True, slots=True)
class SampledPair:
    """The values a quantile or a median needs from one pair."""

    category: str
    similarity: float
    length_ratio: float | None
    baseline_ttft_s: float | None
    candidate_ttft_s: float | None
    censored_arm: str | None = None  # this arm's total time is a lower bound, and its TTFT when `ttft_censored`
    ttft_censored: bool = False
    baseline_total_s: float | None = None
    candidate_total_s: float | None = None
    # The unit routing randomizes (a keyed hash of the user): pairs of one key are not independent.
    routing_key_hash: str | None = None


@dataclass(frozen=True)
class WindowSample:
    """A uniform random sample of a window's pairs (all of them when `exhaustive`)."""

    pairs: list[SampledPair]
    window_pairs: int
    exhaustive: bool


def _window(since: datetime, until: datetime | None) -> ColumnElement[bool]:
    condition = _T.created_at >= since
    return and_(condition, _T.created_at < until) if until is not None else condition


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _triple(base: ColumnElement[bool], cand: ColumnElement[bool],
            within: ColumnElement[bool] | None = None) -> list[ColumnElement[int]]:
    cells = [and_(cand, not_(base)), and_(base, not_(cand)), and_(base, cand)]
    return [_count(and_(within, cell) if within is not None else cell) for cell in cells]


def _from_row(row: Any) -> tuple[int, CategoryTally]:
    """(key group, counts) of one grouped result row: category, key group, then the counts in rollup order."""
    r = [int(v or 0) for v in row[2:]]
    return int(row[1] or 0), CategoryTally(row[0], r[0], (r[1], r[2], r[3]), r[4], (r[5], r[6], r[7]),
                                           (r[8], r[9], r[10]), r[11], r[12], r[13], r[14], (r[15], r[16], 0))


_Parts = list[tuple[int, CategoryTally]]


# Rows with values for the quantiles: compared pairs and timed-out shadows (their latency censored).
_TIMED_OUT = and_(_T.censored_arm.is_not(None),
                  or_(_T.shadow_failure.is_(None), _T.shadow_failure.in_(("timeout", "abandoned"))))
_HAS_VALUES = or_(_T.censored_arm.is_(None), _TIMED_OUT)


def _raw_tallies(store: ComparisonStore, since: datetime, until: datetime | None) -> _Parts:
    """Counts straight from the rows (the window's partial hours), per category and key group."""
    compared = _T.censored_arm.is_(None)
    checked = and_(compared, _T.format_checked)
    columns = [
        _T.category, _T.key_group, _count(compared),
        *_triple(_T.baseline_refused, _T.candidate_refused, compared),
        _count(checked),
        *_triple(_T.baseline_format_broken, _T.candidate_format_broken, checked),
        *_triple(_T.baseline_repetitive, _T.candidate_repetitive, compared),
        _count(and_(compared, _T.length_ratio.is_not(None))),
        _count(and_(compared, _T.baseline_ttft_s > 0, _T.candidate_ttft_s > 0)),
        _count(_TIMED_OUT), func.count(), _count(_T.censored_arm == "candidate"), _count(_T.censored_arm == "baseline"),
    ]
    query = select(*columns).where(_window(since, until)).group_by(_T.category, _T.key_group)
    with store.engine.connect() as conn:
        return [_from_row(row) for row in conn.execute(query).all()]


def _rollup_tallies(store: ComparisonStore, first_hour: datetime, last_hour: datetime) -> _Parts:
    """Counts of the whole hours [first_hour, last_hour) from the trigger-kept rollup."""
    r = ComparisonRollupRow.__table__.c  # type: ignore[attr-defined]
    names = ("pairs", "refused_worse", "refused_better", "refused_both", "format_checked", "format_worse",
             "format_better", "format_both", "repetitive_worse", "repetitive_better", "repetitive_both",
             "length_pairs", "timed_pairs", "censored", "attempts", "failed_worse", "failed_better")
    query = (select(r.category, r.key_group, *(func.sum(r[name]) for name in names))
             .where(r.hour >= first_hour, r.hour < last_hour).group_by(r.category, r.key_group))
    with store.engine.connect() as conn:
        return [_from_row(row) for row in conn.execute(query).all()]


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def tally_window(store: ComparisonStore, since: datetime, until: datetime | None) -> list[GroupedTally]:
    """Counts per category and key group of every pair in [since, until): whole hours from the rollup, the rest
    from rows."""
    store.ensure_schema()
    first_hour = _hour(since) + (timedelta(hours=1) if since != _hour(since) else timedelta(0))
    last_hour = _hour(until or utcnow())
    parts: _Parts = []
    if first_hour < last_hour:
        parts += _raw_tallies(store, since, first_hour)
        parts += _rollup_tallies(store, first_hour, last_hour)
        parts += _raw_tallies(store, last_hour, until)
    else:
        parts += _raw_tallies(store, since, until)
    merged: dict[str, dict[int, CategoryTally]] = {}
    for group, part in parts:
        groups = merged.setdefault(part.category, {})
        groups[group] = groups[group] + part if group in groups else part
    return [GroupedTally(sum(groups.values(), start=_empty(name)), groups) for name, groups in sorted(merged.items())
            if any(t.pairs or t.attempts for t in groups.values())]


def _empty(category: str) -> CategoryTally:
    return CategoryTally(category, 0, (0, 0, 0), 0, (0, 0, 0), (0, 0, 0), 0, 0)


def _id_range(store: ComparisonStore, since: datetime, until: datetime | None) -> tuple[int, int] | None:
    """Smallest and largest id written in the window (found through the created_at index, not a scan)."""
    window = _window(since, until)
    oldest = select(_T.id).where(window).order_by(_T.created_at).limit(_EDGE_ROWS).subquery()
    newest = select(_T.id).where(window).order_by(_T.created_at.desc()).limit(_EDGE_ROWS).subquery()
    with store.engine.connect() as conn:
        low = conn.execute(select(func.min(oldest.c.id))).scalar()
        high = conn.execute(select(func.max(newest.c.id))).scalar()
    return None if low is None or high is None else (int(low), int(high))


def _fetch(store: ComparisonStore, condition: ColumnElement[bool]) -> list[SampledPair]:
    """Compared pairs and timed-out shadows (a shadow that errored has no value any quantile needs)."""
    query = (select(_T.category, _T.similarity, _T.length_ratio, _T.baseline_ttft_s, _T.candidate_ttft_s,
                    _T.censored_arm, _T.ttft_censored, _T.baseline_total_s, _T.candidate_total_s,
                    _T.routing_key_hash).where(condition, _HAS_VALUES))
    with store.engine.connect() as conn:
        return [SampledPair(*row) for row in conn.execute(query).all()]


def _spread(ids: np.ndarray) -> np.ndarray:
    """splitmix64 of each id: a fixed, well-mixed 64-bit value per pair (the same at every read)."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sample_window(store: ComparisonStore, since: datetime, until: datetime | None, size: int,
                  window_pairs: int) -> WindowSample:
    """About `size` pairs of the window, each kept when its id's fixed hash falls below a threshold (every pair
    when the window holds fewer).

    Each pair of the window is equally likely to be kept, and the sample is nested: as a window with the same
    start grows, the threshold only falls, so a later read keeps a subset of what an earlier read kept of the same
    pairs and never redraws them (a redrawn sample would make successive reads of one analysis disagree by
    chance). Candidate ids come from the window's id range and are fetched by primary key.
    """
    store.ensure_schema()
    window = _window(since, until)
    if window_pairs <= size:
        return WindowSample(_fetch(store, window), window_pairs, exhaustive=True)
    span = _id_range(store, since, until)
    if span is None:
        return WindowSample([], 0, exhaustive=True)
    low, high = span
    ids = np.arange(low, high + 1, dtype=np.int64)
    # The threshold is set by the rows in the window (not the id span): ids of other windows' rows are skipped.
    threshold = np.uint64(min(2**64 - 1, int(size / max(window_pairs, 1) * 2.0**64)))
    kept = ids[_spread(ids) < threshold]
    pairs: list[SampledPair] = []
    for start in range(0, kept.size, _FETCH_CHUNK):
        chunk = [int(i) for i in kept[start:start + _FETCH_CHUNK]]
        pairs.extend(_fetch(store, and_(window, _T.id.in_(chunk))))
    return WindowSample(pairs, window_pairs, exhaustive=False)


def analysis_start(store: ComparisonStore, candidate_stamp_json: str, not_before: datetime | None) -> datetime | None:
    """When the current analysis began: the first pair of the current candidate stamp after the newest pair of
    another one, and never before `not_before` (a cleared rollback starts the analysis over); None before any."""
    store.ensure_schema()
    with store.engine.connect() as conn:
        other = conn.execute(select(func.max(_T.id)).where(_T.candidate_stamp_json != candidate_stamp_json)).scalar()
        first = select(func.min(_T.created_at)).where(_T.candidate_stamp_json == candidate_stamp_json)
        if other is not None:
            first = first.where(_T.id > other)
        if not_before is not None:
            first = first.where(_T.created_at >= not_before)
        start = conn.execute(first).scalar()
    if start is None:
        return None
    return start if start.tzinfo else start.replace(tzinfo=UTC)
