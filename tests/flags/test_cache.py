"""A worker's flag cache: a poll that read the store before an admin write never undoes that write."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from flags.cache import FlagCache
from flags.model import FlagSet
from flags.store import FlagStore
from flags.updates import FlagUpdate


class SlowReadStore(FlagStore):
    """A real SQLite store whose snapshot reaches the worker only after `release` is set (a slow poll)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.read_taken = threading.Event()
        self.release = threading.Event()
        self.slow = False

    def snapshot(self) -> FlagSet:
        flags = super().snapshot()
        if self.slow:
            self.read_taken.set()
            self.release.wait(10)
        return flags


async def test_poll_that_started_before_a_write_does_not_overwrite_it(tmp_path: Path) -> None:
    store = SlowReadStore(f"sqlite:///{tmp_path / 'flags.db'}")
    store.ensure_schema()
    published: list[FlagSet] = []
    cache = FlagCache(store, 60.0, on_refresh=lambda flags, _: published.append(flags))
    store.slow = True
    poll = asyncio.create_task(cache.refresh_once())
    await asyncio.to_thread(store.read_taken.wait, 10)
    written = store.apply(FlagUpdate(rollback=True, reason="drill"), "ops")
    cache.accept(written)
    store.release.set()
    await poll
    assert cache.flags.rollback and cache.flags.version == written.version
    # Every flag set the worker published after the write is the write or newer: no flap back to the old one.
    after = published[published.index(written):]
    assert all(flags.version >= written.version and flags.rollback for flags in after)
