"""What verdicts read from a window of stored pairs, computed in the database.

Rate and sign tests need only counts per category, which one `GROUP BY` returns on SQLite and
PostgreSQL alike, however many pairs the window holds. Quantiles and medians need values: they come
from a uniform random sample of the window drawn by id (random ids in the window's id range, fetched by
primary key), bounded in size, and the sample says how large it is and what it was drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import ColumnElement, and_, case, func, literal, not_, null, select

from shadow.records import ComparisonStore, ShadowComparisonRow

_T = ShadowComparisonRow.__table__.c  # type: ignore[attr-defined]
_FETCH_CHUNK = 5_000
_EDGE_ROWS = 1_000  # rows written out of created_at order at the window's edges (batched writers)


@dataclass(frozen=True, slots=True)
class SignBounds:
    """One category's thresholds for the sign tests (policy values, handed down as plain numbers)."""

    similarity_min: float | None = None
    length_min: float | None = None
    length_max: float | None = None


@dataclass(frozen=True)
class BoundsByCategory:
    """The thresholds in force: named categories' own, else the default."""

    default: SignBounds
    named: dict[str, SignBounds] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CategoryTally:
    """Per-category counts of a window. Rate triples are (only candidate, only baseline, both)."""

    category: str
    pairs: int
    refused: tuple[int, int, int]
    format_checked: int
    format_broken: tuple[int, int, int]
    repetitive: tuple[int, int, int]
    similarity_below: int
    length_pairs: int
    length_below: int
    length_above: int
    timed_pairs: int
    # Shadows that timed out (not in any count above; their latencies enter the quantiles as censored).
    censored: int = 0


@dataclass(frozen=True, slots=True)
class SampledPair:
    """The values a quantile or a median needs from one pair."""

    category: str
    similarity: float
    length_ratio: float | None
    baseline_ttft_s: float | None
    candidate_ttft_s: float | None
    censored_arm: str | None = None  # this arm's TTFT is a lower bound when `ttft_censored`
    ttft_censored: bool = False


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


def _per_category(bounds: BoundsByCategory, name: str) -> ColumnElement[float] | None:
    default = getattr(bounds.default, name)
    named = [(_T.category == category, value) for category, own in sorted(bounds.named.items())
             if (value := getattr(own, name)) is not None and value != default]
    if default is None and not named:
        return None
    # A category without a threshold compares with NULL: never counted.
    fallback = literal(default) if default is not None else null()
    return case(*named, else_=fallback) if named else fallback


def tally_window(store: ComparisonStore, since: datetime, until: datetime | None,
                 bounds: BoundsByCategory) -> list[CategoryTally]:
    """One aggregate query: counts per category for every rate and sign test (compared pairs only)."""
    store.ensure_schema()
    compared = _T.censored_arm.is_(None)
    similarity_min = _per_category(bounds, "similarity_min")
    length_min, length_max = _per_category(bounds, "length_min"), _per_category(bounds, "length_max")
    has_ratio = _T.length_ratio.is_not(None)
    checked = and_(compared, _T.format_checked)
    columns = [
        _T.category, _count(compared),
        *_triple(_T.baseline_refused, _T.candidate_refused, compared),
        _count(checked),
        *_triple(_T.baseline_format_broken, _T.candidate_format_broken, checked),
        *_triple(_T.baseline_repetitive, _T.candidate_repetitive, compared),
        _count(and_(compared, _T.similarity < similarity_min)) if similarity_min is not None else func.sum(0),
        _count(and_(compared, has_ratio)),
        # An empty candidate answer (ratio 0) counts as below: never dropped.
        _count(and_(compared, has_ratio, _T.length_ratio < length_min)) if length_min is not None else func.sum(0),
        _count(and_(compared, has_ratio, _T.length_ratio > length_max)) if length_max is not None else func.sum(0),
        _count(and_(compared, _T.baseline_ttft_s > 0, _T.candidate_ttft_s > 0)),
        _count(not_(compared)),
    ]
    query = select(*columns).where(_window(since, until)).group_by(_T.category).order_by(_T.category)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [CategoryTally(r[0], int(r[1]), (int(r[2]), int(r[3]), int(r[4])), int(r[5]),
                          (int(r[6]), int(r[7]), int(r[8])), (int(r[9]), int(r[10]), int(r[11])), int(r[12] or 0),
                          int(r[13]), int(r[14] or 0), int(r[15] or 0), int(r[16]), int(r[17])) for r in rows]


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
    query = (select(_T.category, _T.similarity, _T.length_ratio, _T.baseline_ttft_s, _T.candidate_ttft_s,
                    _T.censored_arm, _T.ttft_censored).where(condition))
    with store.engine.connect() as conn:
        return [SampledPair(*row) for row in conn.execute(query).all()]


def sample_window(store: ComparisonStore, since: datetime, until: datetime | None, size: int,
                  window_pairs: int, seed: int = 0) -> WindowSample:
    """Up to `size` pairs drawn uniformly without replacement from the window (every pair when it holds fewer).

    Ids are drawn uniformly from the window's id range and fetched by primary key; ids that were never
    written or fall outside the window are skipped, so each pair of the window is equally likely to be kept.
    """
    store.ensure_schema()
    window = _window(since, until)
    if window_pairs <= size:
        return WindowSample(_fetch(store, window), window_pairs, exhaustive=True)
    span = _id_range(store, since, until)
    if span is None:
        return WindowSample([], 0, exhaustive=True)
    low, high = span
    draws = min(size, high - low + 1)
    ids = np.random.default_rng(seed).choice(high - low + 1, size=draws, replace=False) + low
    pairs: list[SampledPair] = []
    for start in range(0, draws, _FETCH_CHUNK):
        chunk = [int(i) for i in ids[start:start + _FETCH_CHUNK]]
        pairs.extend(_fetch(store, and_(window, _T.id.in_(chunk))))
    return WindowSample(pairs, window_pairs, exhaustive=False)
