"""The upstream read timeout, as one lazily re-armed timer per response rather than one per network chunk."""

from __future__ import annotations

import asyncio

import aiohttp


class ReadDeadline:
    """Fails a response's body reads once a single wait for upstream data lasts longer than `timeout_s`.

    aiohttp's `sock_read` cancels and re-creates a loop timer on every chunk received, which
    on a busy gateway costs more than the gateway's own per-chunk work. Here the reader only
    notes when it starts and stops waiting; one timer per response checks that lazily and is
    re-armed at most once per `timeout_s`. Time the gateway spends writing to a slow client
    is not counted against the backend.
    """

    __slots__ = ("_content", "_timeout", "_loop", "_handle", "waiting_since")

    def __init__(self, content: aiohttp.StreamReader, timeout_s: float) -> None:
        self._content = content
        self._timeout = timeout_s
        self._loop = asyncio.get_running_loop()
        self.waiting_since: float | None = None
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(timeout_s, self._check)

    def start_wait(self) -> None:
        """The reader is about to wait for upstream data."""
        self.waiting_since = self._loop.time()

    def end_wait(self) -> None:
        """The wait is over (data, end of body, or failure)."""
        self.waiting_since = None

    def _check(self) -> None:
        if self._content.at_eof() or self._content.exception() is not None:
            # The body was read to its end or already failed: nothing left to guard.
            self._handle = None
            return
        now = self._loop.time()
        since = self.waiting_since
        if since is None or now - since < self._timeout:
            base = now if since is None else since
            self._handle = self._loop.call_at(base + self._timeout, self._check)
            return
        self._handle = None
        # What aiohttp's own sock_read does: the pending read raises, and the caller closes the connection.
        self._content.set_exception(aiohttp.SocketTimeoutError(f"no data from the backend for {self._timeout:g}s"))

    def cancel(self) -> None:
        """The response is finished with: drop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
