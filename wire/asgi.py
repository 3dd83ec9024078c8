"""Small raw-ASGI helpers for the hot path: reading a body and noticing a client that went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from wire.errors import ClientGone, RequestTimeout, RequestTooLarge

T = TypeVar("T")

Scope = dict[str, Any]
Message = dict[str, Any]


def media_type(content_type: bytes | str | None) -> str:
    """The lower-cased media type of a Content-Type value, parameters dropped ('' when there is none)."""
    if content_type is None:
        return ""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.split(";", 1)[0].strip().lower()


async def read_body(receive: Any, limit: int, timeout_s: float | None = None) -> bytes:
    """The whole request body, refusing more than `limit` bytes or a body that takes over `timeout_s`.

    The common case, a body that arrived with its headers, costs no timer: the deadline is armed only
    when the body comes in several pieces.
    """
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone()
    first = message.get("body", b"")
    if len(first) > limit:
        raise RequestTooLarge(limit)
    if not message.get("more_body", False):
        return first
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_rest(receive, limit, [first] if first else [], len(first))
    except TimeoutError:
        raise RequestTimeout(timeout_s or 0.0) from None


async def _read_rest(receive: Any, limit: int, chunks: list[bytes], size: int) -> bytes:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class DisconnectWatch:
    """Cancels the current task the moment the client disconnects.

    uvicorn silently drops writes to a closed connection, so only `receive()` tells us the
    client left; without this a streaming upstream would keep generating for nobody. One
    watcher task per request, and the work stays in the request's own task (no asyncio.wait).

    The watcher is never cancelled: once the response is complete the server answers a pending
    `receive()` with `http.disconnect` (the ASGI spec's rule for receive after the response, which
    uvicorn applies to a receive already waiting), and the watcher, finding the work finished,
    returns. Cancelling it instead left a CancelledError and its traceback in a reference cycle per
    request, which only the cyclic GC could free (measured: the largest share of collection time
    under load). `_watcher` is only held so the task is strongly referenced while the request runs.
    """

    __slots__ = ("_receive", "_task", "_watcher", "_finished", "disconnected")

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._finished = False
        self.disconnected = False

    async def _watch(self) -> None:
        while not self._finished:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self._finished and self._task is not None:
                    self.disconnected = True
                    self._task.cancel()
                return

    def __enter__(self) -> DisconnectWatch:
        self._task = asyncio.current_task()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self._finished = True
        self._watcher = None
        task, self._task = self._task, None
        if self.disconnected and task is not None:
            # Swallow only the cancellation we caused; a shutdown cancel still propagates.
            if task.uncancel() == 0 and exc_type is asyncio.CancelledError:
                return True
        return False


async def run_unless_disconnected(receive: Any, work: Awaitable[T]) -> tuple[bool, T | None]:
    """Run `work` in this task, cancelling it if the client disconnects; returns (disconnected, result)."""
    watch = DisconnectWatch(receive)
    result: T | None = None
    with watch:
        result = await work
    return watch.disconnected, (None if watch.disconnected else result)


def header_value(scope: Scope, name: bytes) -> str | None:
    """First value of a (lower-case) request header, decoded as latin-1 per the ASGI spec."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def encode_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """ASGI header list from str pairs."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
