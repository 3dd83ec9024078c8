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


class ServedRow(SQLModel, table=True):
    """Answers that carried a feedback token, per hour and cell: the signals' denominators, aggregated (nothing per
    request), so a guard in another process or pod reads the same rates the live verdicts do."""

    __tablename__ = "quantgate_feedback_served"

    hour: datetime = Field(primary_key=True)
    variant: str = Field(primary_key=True, max_length=16)
    category: str = Field(primary_key=True, max_length=200)
    candidate_share: float = Field(primary_key=True)
    key_group: int = Field(primary_key=True)
    answers: int


# (variant, category, candidate share, key group): one cell of the served counts and of the signal counts.
ServedCell = tuple[str, str, float, int]


@dataclass(frozen=True, slots=True)
class FeedbackCells:
    """Answers served and judged signals per cell (signals: per signal name), since a time."""

    served: dict[ServedCell, int]
    signals: dict[str, dict[ServedCell, int]]


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

    def add_served(self, hour: datetime, counts: dict[ServedCell, int]) -> None:
        """Add answers served to the hour's cells in one transaction (an upsert that increments)."""
        if not counts:
            return
        self.ensure_schema()
        table = ServedRow.__table__  # type: ignore[attr-defined]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["hour", "variant", "category", "candidate_share", "key_group"],
            set_={"answers": table.c.answers + statement.excluded.answers})
        values = [{"hour": hour, "variant": v, "category": c, "candidate_share": share, "key_group": group,
                   "answers": n} for (v, c, share, group), n in counts.items()]
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                conn.execute(statement, values)

    def cells(self, since: datetime, judged: dict[str, float | None]) -> FeedbackCells:
        """Answers served from `since`'s hour on and the signals about them, per cell; `judged` names the signals
        to count, each with the score at or below which a score counts (None: an event, every one counts)."""
        self.ensure_schema()
        hour = since.replace(minute=0, second=0, microsecond=0)
        s, f = ServedRow.__table__.c, FeedbackRow.__table__.c  # type: ignore[attr-defined]
        cell_of = (s.variant, s.category, s.candidate_share, s.key_group)
        with self.engine.connect() as conn:
            served = {(v, c, float(share), int(g)): int(n) for v, c, share, g, n in conn.execute(
                select(*cell_of, func.sum(s.answers)).where(s.hour >= hour).group_by(*cell_of)).all()}
            signals: dict[str, dict[ServedCell, int]] = {}
            for signal, low_at_most in judged.items():
                query = (select(f.variant, f.category, f.candidate_share, f.key_group, func.count())
                         .where(f.signal == signal, f.issued_at >= hour)
                         .group_by(f.variant, f.category, f.candidate_share, f.key_group))
                if low_at_most is not None:
                    query = query.where(f.value <= low_at_most)
                signals[signal] = {(v, c, float(share), int(g)): int(n) for v, c, share, g, n in conn.execute(query)}
        return FeedbackCells(served, signals)
