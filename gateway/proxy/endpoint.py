"""The OpenAI-compatible completion endpoints as raw ASGI: read, route, run the exchange, map errors once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from gateway.proxy.exchange import ProxyExchange
from gateway.proxy.protocol import CLIENT_CLOSED, REJECTED_VARIANT, RequestReader, check_content_type, next_request_id
from gateway.proxy.route import plan_route
from gateway.routing import raw_category, request_id_from
from gateway.runtime import GatewayRuntime
from monitors.metrics import RequestRecord
from wire.asgi import DisconnectWatch, Scope, read_body
from wire.errors import ClientGone, GatewayError, InvalidRequest, ShuttingDown, error_response_parts

log = logging.getLogger("quantgate.proxy")


class CompletionProxy:
    """Raw ASGI endpoint for one OpenAI path; no Starlette Request on the hot path."""

    def __init__(self, runtime: GatewayRuntime, endpoint: str, path: str) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.path = path
        settings = runtime.settings
        self.reader = RequestReader(endpoint, path, settings.public_model_name,
                                    frozenset({settings.public_model_name, *settings.model_aliases}),
                                    runtime.categories, settings.request_bounds)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        request_id, bad_id = request_id_from(headers, next_request_id)
        exchange: ProxyExchange | None = None
        tracing = self.runtime.tracing
        span = tracing.server_span(f"POST {self.path}", {k.decode("latin-1"): v.decode("latin-1")
                                                          for k, v in headers.items()}) if tracing.enabled else None
        try:
            if bad_id:
                raise InvalidRequest(bad_id)
            check_content_type(headers)
            settings = self.runtime.settings
            body = await read_body(receive, settings.max_request_bytes, settings.client_body_timeout_s)
            request = self.reader.read(headers, body, request_id, started)
            exchange = ProxyExchange(self.runtime, request, plan_route(self.runtime.flags.flags, request), send, span)
            # The watch wraps the await directly (no helper coroutine): every resume of a stream passes each frame.
            with DisconnectWatch(receive) as watch:
                await exchange.run()
            if watch.disconnected:
                exchange.status_override = CLIENT_CLOSED
        except ClientGone:
            return
        except asyncio.CancelledError:
            # Not the client leaving (DisconnectWatch swallows that): uvicorn cancels what is left when the drain
            # time runs out. Say so in the answer's own format, then let the cancellation go on.
            await self._cut_by_shutdown(send, request_id, exchange)
            raise
        except Exception as exc:  # noqa: BLE001 - every failure before the first byte becomes an error body
            if exchange is not None and exchange.response_started:
                raise
            status = await self._send_error(send, exc, request_id, exchange)
            if exchange is None:
                self._record_rejected(headers, status, started)
        finally:
            if exchange is not None:
                exchange.record()
            if span is not None:
                tracing.finish(span, _span_attributes(request_id, self.path, exchange))

    async def _cut_by_shutdown(self, send: Any, request_id: str, exchange: ProxyExchange | None) -> None:
        error = ShuttingDown(self.runtime.settings.drain_timeout_s)
        if exchange is not None:
            exchange.status_override = str(error.status_code)
        try:
            # Bounded: a client that stopped reading must not hold the shutdown up.
            async with asyncio.timeout(1.0):
                if exchange is None or not exchange.response_started:
                    await self._send_error(send, error, request_id, exchange)
                elif exchange.request.stream:
                    await send({"type": "http.response.body", "body": b"data: " + error.body_bytes() + b"\n\n",
                                "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (TimeoutError, OSError):
            pass

    async def _send_error(self, send: Any, exc: Exception, request_id: str, exchange: ProxyExchange | None) -> int:
        """The one place a failure becomes an OpenAI-style error body."""
        if not isinstance(exc, GatewayError):
            log.error("unhandled proxy error", exc_info=exc)
        variant = exchange.variant.value if exchange is not None else None
        status, headers, body = error_response_parts(exc, request_id, variant)
        if exchange is not None:
            exchange.status_override = str(status)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def _record_rejected(self, headers: dict[bytes, bytes], status: int, started: float) -> None:
        """Count a request the gateway refused itself, so that error-rate alerts see bad input too."""
        category = self.runtime.categories.label(raw_category(headers, {}))
        self.runtime.metrics.observe_request(RequestRecord(
            variant=REJECTED_VARIANT, category=category, endpoint=self.endpoint, status=str(status), streamed=False,
            total_s=time.perf_counter() - started, ttft_s=None, output_tokens=None))


def _span_attributes(request_id: str, path: str, exchange: ProxyExchange | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"http.request.method": "POST", "url.path": path, "quantgate.request_id": request_id}
    if exchange is not None:
        attributes.update(exchange.span_attributes())
    return attributes
