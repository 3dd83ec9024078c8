"""Redirects that never name a host the client made up.

Starlette's trailing-slash redirect builds an absolute `Location` from the request's `Host` header, so
`Host: evil.example` on `/console/` answered `Location: http://evil.example/console`: a cache or a proxy that keys
on the path alone can hand that redirect to everyone (cache poisoning, an open redirect). A relative reference
(RFC 9110 §10.2.2 allows it) keeps the browser on the host it is already talking to.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wire.asgi import Scope


class RelativeRedirects:
    """Pure ASGI: a redirect's absolute `Location` becomes its path and query."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_relative(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                message["headers"] = [(name, _relative(value) if name.lower() == b"location" else value)
                                      for name, value in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, send_relative)


def _relative(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    if not parts.scheme and not parts.netloc:
        return location
    # "//evil.example" would still be absolute (network-path reference): the path always starts with one "/".
    path = "/" + parts.path.lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment)).encode("latin-1")
