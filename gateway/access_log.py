"""Optional JSON-lines access log: one line per HTTP request, written when the response ends.

Pure ASGI (it wraps `send` only to read the status and two headers) and off by default; `access_log: true` in the
settings turns it on. Every field a client controls is bounded.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

MAX_PATH_CHARS = 256
log = logging.getLogger("quantgate.access")


def configure_access_log() -> None:
    """Send the access log to stdout as bare JSON lines (idempotent, once per worker)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def access_record(scope: dict[str, Any], status: int, headers: dict[bytes, bytes], started: float,
                  first_byte: float | None) -> dict[str, Any]:
    """The fields of one line: what an on-call engineer greps for."""
    now = time.perf_counter()
    client = scope.get("client")
    return {
        "time": round(time.time(), 3), "method": scope.get("method", ""),
        "path": str(scope.get("path", ""))[:MAX_PATH_CHARS], "status": status,
        "duration_ms": round((now - started) * 1000, 2),
        "first_byte_ms": None if first_byte is None else round((first_byte - started) * 1000, 2),
        "variant": headers.get(b"x-quantgate-variant", b"").decode("latin-1") or None,
        "request_id": headers.get(b"x-request-id", b"").decode("latin-1")[:128] or None,
        "client": client[0] if client else None,
    }


async def logged(app: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Run `app` for one HTTP request and log it when the response ends (or the request fails)."""
    started = time.perf_counter()
    seen: dict[str, Any] = {"status": 0, "headers": {}, "first_byte": None}

    async def watching_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            seen["headers"] = {k.lower(): v for k, v in message.get("headers", ())
                               if k.lower() in (b"x-quantgate-variant", b"x-request-id")}
        elif message["type"] == "http.response.body" and seen["first_byte"] is None:
            seen["first_byte"] = time.perf_counter()
        await send(message)

    try:
        await app(scope, receive, watching_send)
    finally:
        log.info(orjson.dumps(access_record(scope, seen["status"], seen["headers"], started,
                                            seen["first_byte"])).decode())
