"""Stored feedback signals: one row per (answer's token, signal), written in batches, duplicates counted once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from flags.deadlines import StoreTimeouts
from flags.engine import ensure_migrated, make_engine


class FeedbackRow(SQLModel, table=True):
    """One signal about one answer: what its token said (arm, category, stratum, key group) and what came back."""

    __tablename__ = "quantgate_feedback"
    __table_args__ = (UniqueConstraint("token_sha256", "signal", name="uq_quantgate_feedback_token_signal"),)

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(index=True)
    issued_at: datetime
    variant: str
    category: str = Field(index=True)
    candidate_share: float
    key_group: int
    signal: str
    value: float | None = None
    # The token's SHA-256: a token gives each signal once, however often a client retries it.
    token_sha256: str = Field(max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=128, unique=True)


@dataclass(frozen=True, slots=True)
class FeedbackTally:
    """Signals counted per (variant, category, signal)."""

    variant: str
    category: str
    signal: str
    count: int


class FeedbackStore:
    """Feedback in the flag store's database."""

    def __init__(self, url: str, timeouts: StoreTimeouts | None = None) -> None:
        self.engine = make_engine(url, timeouts)
        self._ready = False

    def ensure_schema(self) -> None:
        """Fail early when the schema is not migrated."""
        if not self._ready:
            ensure_migrated(self.engine)
            self._ready = True

    def insert_new(self, rows: list[FeedbackRow]) -> list[bool]:
        """Insert the rows in one transaction; per row, whether it was new (False: this token's signal, or this
        idempotency key, was already recorded)."""
        self.ensure_schema()
        table = FeedbackRow.__table__  # type: ignore[attr-defined]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        values = [row.model_dump(exclude={"id"}) for row in rows]
        statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.token_sha256, table.c.signal)
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                inserted = {(r.token_sha256, r.signal) for r in conn.execute(statement, values)} if values else set()
        # A key inserted once answers "new" once: the same signal twice in one batch is one new row and a duplicate.
        fresh = []
        for row in rows:
            key = (row.token_sha256, row.signal)
            fresh.append(key in inserted)
            inserted.discard(key)
        return fresh

    def tally(self, since: datetime | None = None) -> list[FeedbackTally]:
        """Counts per variant, category and signal (since a time, or all)."""
        self.ensure_schema()
        t = FeedbackRow.__table__.c  # type: ignore[attr-defined]
        query = select(t.variant, t.category, t.signal, func.count()).group_by(t.variant, t.category, t.signal)
        if since is not None:
            query = query.where(t.received_at >= since)
        with self.engine.connect() as conn:
            return [FeedbackTally(*row) for row in conn.execute(query).all()]
