"""Per-worker copy of the flag set, refreshed by polling the store's version."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from flags.model import SAFE_DEFAULT_FLAGS, FlagSet
from flags.store import FlagStore, FlagStoreUnavailable

log = logging.getLogger("quantgate.flags")

FlagListener = Callable[[FlagSet, "FlagCache"], None]


class FlagCache:
    """Serves the last known flags; a store that is down never blocks start-up or requests."""

    def __init__(self, store: FlagStore, poll_interval_s: float, on_refresh: FlagListener | None = None) -> None:
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.flags: FlagSet = SAFE_DEFAULT_FLAGS
        self.loaded = False
        self.store_reachable = False
        self.last_error: str | None = None
        self._last_success = 0.0
        self._on_refresh = on_refresh
        self._task: asyncio.Task[None] | None = None
        # Up means "answered lately", not "the last poll did not fail": a frozen server fails no poll, it just
        # never finishes one. Two missed polls plus one statement timeout is as long as a healthy store takes.
        self.stale_after_s = 2 * poll_interval_s + store.timeouts.statement_timeout_s

    def store_up(self) -> bool:
        """True while the store answered within the last `stale_after_s` seconds."""
        return self.store_reachable and self.staleness_s() <= self.stale_after_s

    def staleness_s(self) -> float:
        """Seconds since the store last answered (infinite when it never did)."""
        if not self._last_success:
            return float("inf")
        return time.monotonic() - self._last_success

    def accept(self, flags: FlagSet) -> None:
        """Take a flag set this worker just wrote, without waiting for the next poll."""
        if flags.version >= self.flags.version:
            self.flags = flags
            self.loaded = True
        self._notify()

    def _poll_version(self) -> int:
        # One hop to the worker thread per poll: the schema check is a no-op once it succeeded.
        self.store.ensure_schema()
        return self.store.current_version()

    async def refresh_once(self) -> None:
        """One poll: read the version, reload the whole set only when it moved."""
        try:
            before = self.flags
            version = await asyncio.to_thread(self._poll_version)
            if version != before.version or not self.loaded:
                fresh = await asyncio.to_thread(self.store.snapshot)
                # A write this worker accepted while the read was in flight is newer than what the read saw.
                if self.flags is before or fresh.version >= self.flags.version:
                    self.flags = fresh
                    self.loaded = True
            self.store_reachable = True
            self.last_error = None
            self._last_success = time.monotonic()
        except FlagStoreUnavailable as exc:
            if self.store_reachable or self.last_error is None:
                log.warning("flag store unreachable, serving last known flags: %s", exc)
            self.store_reachable = False
            self.last_error = str(exc)
        self._notify()

    def _notify(self) -> None:
        if self._on_refresh is not None:
            self._on_refresh(self.flags, self)

    async def _run(self) -> None:
        while True:
            poll = asyncio.ensure_future(self.refresh_once())
            while not poll.done():
                # Wake the moment the last answer becomes too old, then once per interval while the poll hangs.
                left = self.stale_after_s - self.staleness_s()
                done, _ = await asyncio.wait({poll}, timeout=left + 0.01 if left > 0 else self.poll_interval_s)
                if not done:
                    self._notify()  # the poll is still blocked: publish the health its age implies
            poll.result()
            await asyncio.sleep(self.poll_interval_s)

    def start(self) -> None:
        """Start polling in the background; returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="quantgate-flag-poll")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
