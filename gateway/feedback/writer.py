"""Feedback written in batches off the request path, each submission answered only once its batch committed.

Group commit: the endpoint queues a row with a future and waits; one task takes whatever is queued (up to a
batch), inserts it in one transaction and resolves every future with whether its row was new. So nothing is
acknowledged that is not in the database, a store that is down fails the waiting requests at once (503, nothing
acknowledged), and a full queue refuses at the door instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from flags.engine import SchemaNotMigrated
from flags.feedback_store import FeedbackRow, FeedbackStore

log = logging.getLogger("quantgate.feedback")


class FeedbackRefused(Exception):
    """The feedback could not be kept (queue full, store unavailable): nothing was recorded."""


def _refuse(batch: list[tuple[FeedbackRow, asyncio.Future[bool]]], reason: str) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(FeedbackRefused(reason))


class FeedbackWriter:
    """Bounded queue in front of the store; `submit` returns once the row is committed (True: it was new)."""

    def __init__(self, store: FeedbackStore, on_recorded: Callable[[FeedbackRow], None], queue_size: int = 10_000,
                 batch_size: int = 500) -> None:
        self.store = store
        self._on_recorded = on_recorded
        self._queue: asyncio.Queue[tuple[FeedbackRow, asyncio.Future[bool]]] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    async def submit(self, row: FeedbackRow) -> bool:
        """Queue the row and wait for its batch; FeedbackRefused when it cannot be kept."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((row, future))
        except asyncio.QueueFull:
            raise FeedbackRefused("the feedback queue is full; nothing was recorded, retry later") from None
        return await asyncio.shield(future)

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            rows = [row for row, _ in batch]
            try:
                new = await asyncio.to_thread(self.store.insert_new, rows)
            except asyncio.CancelledError:
                _refuse(batch, "the gateway stopped while this signal was being written: it may have been recorded; "
                               "a retry counts once")
                raise
            except (SQLAlchemyError, SchemaNotMigrated) as exc:
                log.warning("feedback store refused %d signals: %s", len(rows), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(FeedbackRefused("the feedback store is unavailable; nothing was "
                                                             "recorded, retry later (a retry counts once)"))
                continue
            for (row, future), fresh in zip(batch, new, strict=True):
                if fresh:
                    self._on_recorded(row)
                if not future.done():
                    future.set_result(fresh)

    def start(self) -> None:
        """Start the write loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._write_loop(), name="quantgate-feedback-writer")

    async def stop(self) -> None:
        """Stop the write loop; queued submissions are refused (their callers see a 503)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        queued = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        _refuse(queued, "the gateway is stopping; nothing was recorded")
