"""Small raw-ASGI helpers for the hot path: reading a body and noticing a client that went away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from gateway.errors import ClientGone, RequestTooLarge

T = TypeVar("T")

Scope = dict[str, Any]
Message = dict[str, Any]


async def read_body(receive: Any, limit: int) -> bytes:
    """The whole request body, refusing more than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
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
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _wait_for_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def run_unless_disconnected(receive: Any, work: Awaitable[T]) -> tuple[bool, T | None]:
    """Run `work`, cancelling it the moment the client disconnects.

    uvicorn silently drops writes to a closed connection, so only `receive()` tells us the
    client left; without this a streaming upstream would keep generating for nobody.
    Returns (client_disconnected, result).
    """
    work_task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait((work_task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work_task.cancel()
        watcher.cancel()
        raise
    if work_task.done():
        watcher.cancel()
        return False, work_task.result()
    work_task.cancel()
    try:
        await work_task
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001 - the client is gone; nobody is left to tell
        pass
    return True, None


def header_value(scope: Scope, name: bytes) -> str | None:
    """First value of a (lower-case) request header, decoded as latin-1 per the ASGI spec."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def encode_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """ASGI header list from str pairs."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
