"""Stored comparison records: the table, batched writes off the request path, retention, and queries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, func, select

from flags.engine import SchemaNotMigrated, ensure_migrated, make_engine
from flags.model import utcnow

# Routing keys fall into this many groups by a fixed hash of their stored hash. Keys are users and users are
# independent of each other, so groups of them are too: the verdicts estimate the clustering of one user's pairs
# from how the groups' counts vary (migration 0011 counts every rollup row per group).
KEY_GROUPS = 128


def key_group(routing_key_hash: str) -> int:
    """The group a routing key's pairs are counted in."""
    return int.from_bytes(hashlib.blake2b(routing_key_hash.encode(), digest_size=4).digest(), "big") % KEY_GROUPS


class ShadowComparisonRow(SQLModel, table=True):
    """One shadow pair: identities, both stamps, detector results, comparison figures, optional texts."""

    __tablename__ = "quantgate_shadow_comparison"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    created_at: datetime = Field(index=True)
    category: str = Field(index=True)
    routing_key_hash: str
    primary_variant: str
    baseline_stamp_json: str
    candidate_stamp_json: str
    baseline_judgement_json: str
    candidate_judgement_json: str
    exact_match: bool
    similarity: float
    similarity_head: float
    similarity_tail: float | None = None
    first_divergence: float | None = None
    length_ratio: float | None = None
    refusal_flip: str | None = None
    format_flip: str | None = None
    repetition_flip: str | None = None
    # The answer's language differs from the prompt's on one side only (migration 0009; older rows: None).
    language_flip: str | None = None
    any_flip: bool = Field(default=False, index=True)
    # Each arm's detector flags as columns, so verdicts count them in SQL (also in the judgement JSON).
    baseline_refused: bool = False
    candidate_refused: bool = False
    baseline_repetitive: bool = False
    candidate_repetitive: bool = False
    baseline_format_broken: bool = False
    candidate_format_broken: bool = False
    format_checked: bool = False  # both answers were checked against a requested format
    # A shadow that timed out: its variant, its latencies censored at the time waited (the true ones are at
    # least that), no answer to compare. Kept so that the slowest answers are in the latency quantiles.
    censored_arm: str | None = None
    ttft_censored: bool = False
    # Why the shadow arm (`censored_arm`) gave no answer: timeout, abandoned (only these stay in the latency
    # quantiles, censored), error or circuit_open; None on compared pairs (and on timeouts stored before 0011).
    shadow_failure: str | None = None
    # The routing key's group (`key_group`), set on insert: the verdicts' independent units.
    key_group: int = 0
    baseline_ttft_s: float | None = None
    candidate_ttft_s: float | None = None
    baseline_total_s: float
    candidate_total_s: float
    baseline_output_tokens: int | None = None
    candidate_output_tokens: int | None = None
    prompt_text: str | None = None
    baseline_text: str | None = None
    candidate_text: str | None = None


class ComparisonRollupRow(SQLModel, table=True):
    """Counts of the pairs stored in one hour and category, kept by database triggers on every insert and delete
    (migration 0006), so that a week's verdict reads a few thousand rows instead of millions."""

    __tablename__ = "quantgate_comparison_rollup"

    hour: datetime = Field(primary_key=True)
    category: str = Field(primary_key=True)
    key_group: int = Field(default=0, primary_key=True)
    pairs: int = 0
    refused_worse: int = 0
    refused_better: int = 0
    refused_both: int = 0
    format_checked: int = 0
    format_worse: int = 0
    format_better: int = 0
    format_both: int = 0
    repetitive_worse: int = 0
    repetitive_better: int = 0
    repetitive_both: int = 0
    length_pairs: int = 0
    timed_pairs: int = 0
    censored: int = 0
    attempts: int = 0
    failed_worse: int = 0
    failed_better: int = 0


_SUMMARY_FIELDS = ("id", "request_id", "created_at", "category", "primary_variant", "exact_match", "similarity",
                   "similarity_head", "similarity_tail", "first_divergence", "length_ratio", "refusal_flip",
                   "format_flip", "repetition_flip", "language_flip", "baseline_ttft_s", "candidate_ttft_s",
                   "baseline_output_tokens", "candidate_output_tokens", "censored_arm", "ttft_censored")


def row_summary(row: ShadowComparisonRow) -> dict[str, Any]:
    """The list view of a record."""
    out = {name: getattr(row, name) for name in _SUMMARY_FIELDS}
    out["created_at"] = row.created_at.isoformat()
    return out


def row_detail(row: ShadowComparisonRow) -> dict[str, Any]:
    """Everything about one record, JSON columns decoded."""
    out = row_summary(row)
    out.update({
        "routing_key_hash": row.routing_key_hash,
        "baseline_stamp": json.loads(row.baseline_stamp_json),
        "candidate_stamp": json.loads(row.candidate_stamp_json),
        "baseline_judgement": json.loads(row.baseline_judgement_json),
        "candidate_judgement": json.loads(row.candidate_judgement_json),
        "baseline_total_s": row.baseline_total_s, "candidate_total_s": row.candidate_total_s,
        "prompt_text": row.prompt_text, "baseline_text": row.baseline_text, "candidate_text": row.candidate_text,
    })
    return out


# Flip kinds a comparison can be filtered by, and the column each one sets.
FLIP_COLUMNS = {"refusal": ShadowComparisonRow.refusal_flip, "format": ShadowComparisonRow.format_flip,
                "repetition": ShadowComparisonRow.repetition_flip, "language": ShadowComparisonRow.language_flip}


@dataclass(frozen=True)
class ComparisonQuery:
    """Filters of GET /admin/comparisons."""

    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None
    flips_only: bool = False
    # One kind of flip only: the column of that detector's flip is set.
    flip: str | None = None
    similarity_min: float | None = None
    similarity_max: float | None = None
    limit: int = 50
    offset: int = 0


class ComparisonStore:
    """Comparison records in the flag store's database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._ready = False

    def ensure_schema(self) -> None:
        """Create the table if missing."""
        if not self._ready:
            ensure_migrated(self.engine)
            self._ready = True

    def insert_many(self, rows: list[ShadowComparisonRow]) -> None:
        """One transaction per batch."""
        self.ensure_schema()
        for row in rows:
            row.key_group = key_group(row.routing_key_hash)
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin(), Session(bind=conn) as session:
                session.add_all(rows)
                session.flush()

    def purge_older_than(self, age: timedelta) -> int:
        """Delete records older than `age`; returns how many."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                result = conn.execute(delete(ShadowComparisonRow).where(
                    col(ShadowComparisonRow.created_at) < utcnow() - age))
                return int(result.rowcount or 0)

    def query(self, q: ComparisonQuery) -> tuple[int, list[ShadowComparisonRow]]:
        """(total matching, one page newest first)."""
        self.ensure_schema()
        conditions = []
        if q.since is not None:
            conditions.append(col(ShadowComparisonRow.created_at) >= q.since)
        if q.until is not None:
            conditions.append(col(ShadowComparisonRow.created_at) < q.until)
        if q.category is not None:
            conditions.append(ShadowComparisonRow.category == q.category)
        if q.flips_only:
            conditions.append(col(ShadowComparisonRow.any_flip).is_(True))
        if q.flip is not None:
            conditions.append(col(FLIP_COLUMNS[q.flip]).is_not(None))
        if q.similarity_min is not None:
            conditions.append(col(ShadowComparisonRow.similarity) >= q.similarity_min)
        if q.similarity_max is not None:
            conditions.append(col(ShadowComparisonRow.similarity) <= q.similarity_max)
        with Session(self.engine) as session:
            total = session.exec(select(func.count()).select_from(ShadowComparisonRow).where(*conditions)).one()
            rows = session.exec(select(ShadowComparisonRow).where(*conditions)
                                .order_by(col(ShadowComparisonRow.id).desc()).offset(q.offset).limit(q.limit)).all()
        return int(total), list(rows)

    def rows_after(self, last_id: int, since: datetime | None = None, limit: int = 50_000) -> list[ShadowComparisonRow]:
        """Rows with id above `last_id` (and newer than `since`), oldest first: what a poller has not seen."""
        self.ensure_schema()
        query = select(ShadowComparisonRow).where(col(ShadowComparisonRow.id) > last_id)
        if since is not None:
            query = query.where(col(ShadowComparisonRow.created_at) >= since)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(ShadowComparisonRow.id)).limit(limit)).all())

    def get(self, record_id: int) -> ShadowComparisonRow | None:
        """One record by id."""
        self.ensure_schema()
        with Session(self.engine) as session:
            return session.get(ShadowComparisonRow, record_id)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


class ComparisonStoreError(RuntimeError):
    """Reading comparison records failed."""


def safe(call: Any, *args: Any) -> Any:
    """Run a store call, turning database errors into ComparisonStoreError."""
    try:
        return call(*args)
    except (SQLAlchemyError, SchemaNotMigrated) as exc:
        raise ComparisonStoreError(f"comparison store error: {exc.__class__.__name__}") from exc
