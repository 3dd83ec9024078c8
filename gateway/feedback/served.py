"""Answers served with a feedback token, counted in memory and added to the store now and then.

The signals' rates need a denominator the rollback guard can read from the database, where it runs (its own
process, or pod). Each worker counts per (arm, category, stratum, key group) on the hot path (a dict increment)
and a background task adds the counts to the hour's rows; a failed write keeps them for the next one, so an
outage delays the denominators but loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from sqlalchemy.exc import SQLAlchemyError

from flags.engine import SchemaNotMigrated
from flags.feedback_store import FeedbackStore, ServedCell
from flags.model import utcnow

log = logging.getLogger("quantgate.feedback")
# Cells are bounded already (arms x category labels x strata x key groups); this only guards the memory.
MAX_CELLS = 200_000


class ServedAnswers:
    """The counts since the last write, and the task that writes them."""

    def __init__(self, store: FeedbackStore, flush_s: float) -> None:
        self.store = store
        self._flush_s = flush_s
        self._pending: Counter[ServedCell] = Counter()
        self._task: asyncio.Task[None] | None = None

    def count(self, variant: str, category: str, candidate_share: float, key_group: int) -> None:
        """One answer that carried a token."""
        cell = (variant, category, round(candidate_share, 2), key_group)
        if cell in self._pending or len(self._pending) < MAX_CELLS:
            self._pending[cell] += 1

    async def flush(self) -> bool:
        """Add what was counted to the store; False (counts kept) when the store refused."""
        counts, self._pending = self._pending, Counter()
        if not counts:
            return True
        try:
            await asyncio.to_thread(self.store.add_served, utcnow(), dict(counts))
        except (SQLAlchemyError, SchemaNotMigrated, OSError) as exc:
            log.warning("feedback store refused the served counts (kept for the next write): %s", exc)
            self._pending.update(counts)
            return False
        return True

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            await self.flush()

    def start(self) -> None:
        """Start writing every `flush_s`."""
        if self._task is None:
            self._task = asyncio.create_task(self._flush_loop(), name="quantgate-feedback-served")

    async def stop(self) -> None:
        """Stop the task and write what is left (once: a store that is down then loses the last interval)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
