"""uvicorn's httptools protocol with the two guards a public HTTP server needs and uvicorn lacks.

- A deadline for the request head: uvicorn arms no timer until a first response, so a client that opens a
  connection and never finishes its headers holds it (and a file descriptor) forever. Such a client gets
  a 408 and the connection is closed.
- A bound on the request head (line and headers), as nginx's `large_client_header_buffers`: uvicorn takes
  headers of any size, so a 64 MB header was read, held and answered. A larger head gets a 431 and the
  connection is closed.
- Malformed requests (control bytes in a header, a broken request line) are answered with an OpenAI-style
  JSON error like every other 4xx of the gateway, not uvicorn's plain-text body.
Selected with uvicorn's `http="gateway.http_protocol:GatewayHttpProtocol"`; the deadline comes from the
settings (`client_header_timeout_s`, `client_max_header_bytes`), set on the class once per worker at start-up.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_STATUS_LINES = {400: b"HTTP/1.1 400 Bad Request\r\n", 408: b"HTTP/1.1 408 Request Timeout\r\n",
                 431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n"}


def _error_bytes(status: int, message: str) -> bytes:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                   "code": status}})
    return b"".join([_STATUS_LINES[status], b"content-type: application/json\r\n",
                     b"content-length: " + str(len(body)).encode() + b"\r\n", b"connection: close\r\n\r\n", body])


class GatewayHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus a request-head deadline and JSON bodies for protocol errors."""

    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        # Bytes of the current request's head seen so far; the head is done once its headers are complete.
        self._head_bytes = 0
        self._head_done = False
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        # A new request on a kept-alive connection must finish its head in time too.
        if self._head_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_deadline()
        if not self._head_done:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still no end of the head: refuse before the parser buffers any more of it.
        if not self._head_done and self._head_bytes > self.max_header_bytes:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()
        self._head_done = True
        head = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if head > self.max_header_bytes:
            self._refuse_head()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._head_done = False
        self._head_bytes = 0
        if not self._refused:
            super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._cancel_head_deadline()
        if self._refused or self.transport.is_closing():
            return
        self.transport.write(_error_bytes(400, f"malformed HTTP request: {msg}"))
        self.transport.close()

    def _refuse_head(self) -> None:
        self._refused = True
        self._cancel_head_deadline()
        if not self.transport.is_closing():
            self.transport.write(_error_bytes(431, f"request line and headers exceed {self.max_header_bytes} bytes"))
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
