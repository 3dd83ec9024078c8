"""uvicorn's httptools protocol with the two guards a public HTTP server needs and uvicorn lacks.

- A deadline for the request head: uvicorn arms no timer until a first response, so a client that opens a
  connection and never finishes its headers holds it (and a file descriptor) forever. Such a client gets
  a 408 and the connection is closed.
- Malformed requests (control bytes in a header, a broken request line) are answered with an OpenAI-style
  JSON error like every other 4xx of the gateway, not uvicorn's plain-text body.
Selected with uvicorn's `http="gateway.http_protocol:GatewayHttpProtocol"`; the deadline comes from the
settings (`client_header_timeout_s`), set on the class once per worker at start-up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINES = {400: b"HTTP/1.1 400 Bad Request\r\n", 408: b"HTTP/1.1 408 Request Timeout\r\n"}


def _error_bytes(status: int, message: str) -> bytes:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                   "code": status}})
    return b"".join([_STATUS_LINES[status], b"content-type: application/json\r\n",
                     b"content-length: " + str(len(body)).encode() + b"\r\n", b"connection: close\r\n\r\n", body])


class GatewayHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus a request-head deadline and JSON bodies for protocol errors."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        # A new request on a kept-alive connection must finish its head in time too.
        if self._head_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_deadline()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_head_deadline()
        self.transport.write(_error_bytes(400, f"malformed HTTP request: {msg}"))
        self.transport.close()

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        self.transport.write(_error_bytes(408, f"request head not received within {self.header_timeout_s:g} s"))
        self.transport.close()
