"""The OpenAI-compatible proxy endpoints: route, forward, relay the stream, fail over, record."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import Span

from flags.bucketing import RolloutDecision, decide_variant
from flags.model import Variant
from gateway.routing import raw_category, request_id_from, routing_key
from gateway.runtime import GatewayRuntime
from monitors.metrics import RequestRecord
from monitors.quality.judging import PrimaryAnswer
from shadow.mirror import ShadowJob
from shadow.sampling import shared_seed, wants_shadow
from wire.asgi import DisconnectWatch, Scope, media_type, read_body
from wire.errors import (
    ClientGone,
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    ShuttingDown,
    UnsupportedMediaType,
    UpstreamFailure,
    error_response_parts,
)
from wire.sse import SseTap
from wire.upstream import UpstreamBackend, UpstreamResponse

log = logging.getLogger("quantgate.proxy")

_TRACE_HEADERS = (b"traceparent", b"tracestate")
# Request ids: a random per-process prefix and a counter (uuid4 costs a getrandom syscall per request).
_ID_PREFIX = uuid.uuid4().hex[:20]
_ID_COUNTER = itertools.count()


def next_request_id() -> str:
    """A unique 32-hex-digit request id."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"
CLIENT_CLOSED = "499"
# Requests the gateway answers itself (bad input) are counted under this variant: no backend saw them.
REJECTED_VARIANT = "gateway"


@dataclass(slots=True)
class ProxyRequest:
    """One client request as the gateway understood it."""

    request_id: str
    endpoint: str
    path: str
    payload: dict[str, Any]
    stream: bool
    client_wants_usage: bool
    routing_key: str
    category: str
    trace_headers: list[tuple[str, str]]
    started: float


def _parse_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object", param="stream_options")
    for name in ("model", "user"):
        if name in payload and not isinstance(payload[name], str | None):
            raise InvalidRequest(f"'{name}' must be a string", param=name)
    return payload


def _check_content_type(headers: dict[bytes, bytes]) -> None:
    # As vLLM: a body sent as form data or text is refused, not guessed at. No header at all is read as JSON.
    content_type = headers.get(b"content-type")
    if content_type is None:
        return
    media = media_type(content_type)
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"content-type must be application/json, got {media!r}")


class CompletionProxy:
    """Raw ASGI endpoint for one OpenAI path; no Starlette Request on the hot path."""

    def __init__(self, runtime: GatewayRuntime, endpoint: str, path: str) -> None:
        self.runtime = runtime
        self.endpoint = endpoint
        self.path = path
        settings = runtime.settings
        self._accepted_models = {settings.public_model_name, settings.baseline.served_model_name,
                                 settings.candidate.served_model_name}

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
            _check_content_type(headers)
            settings = self.runtime.settings
            body = await read_body(receive, settings.max_request_bytes, settings.client_body_timeout_s)
            request = self._understand(headers, body, request_id, started)
            flags = self.runtime.flags.flags
            decision = decide_variant(flags, request.routing_key, request.category)
            shadowed = wants_shadow(flags, request.routing_key)
            if shadowed and "seed" not in request.payload:
                # Both arms must sample alike to be comparable: the gateway picks the seed.
                request.payload["seed"] = shared_seed(request_id)
            exchange = ProxyExchange(self.runtime, request, decision, send, shadowed, span)
            # The watch wraps the await directly (no helper coroutine): every resume of a stream passes each frame.
            with DisconnectWatch(receive) as watch:
                await exchange.run()
            if watch.disconnected:
                exchange.status = CLIENT_CLOSED
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
            exchange.status = str(error.status_code)
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
        if not isinstance(exc, GatewayError):
            log.error("unhandled proxy error", exc_info=exc)
        variant = exchange.variant.value if exchange is not None else None
        status, headers, body = error_response_parts(exc, request_id, variant)
        if exchange is not None:
            exchange.status = str(status)
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

    def _understand(self, headers: dict[bytes, bytes], body: bytes, request_id: str, started: float) -> ProxyRequest:
        payload = _parse_payload(body)
        model = payload.get("model")
        if model is not None and model not in self._accepted_models:
            raise ModelNotFound(f"The model `{model}` does not exist; this gateway serves "
                                f"`{self.runtime.settings.public_model_name}`.", param="model")
        stream = bool(payload.get("stream"))
        options = payload.get("stream_options") or {}
        trace_headers = [(name.decode(), value.decode("latin-1")) for name in _TRACE_HEADERS
                         if (value := headers.get(name)) is not None]
        return ProxyRequest(
            request_id=request_id, endpoint=self.endpoint, path=self.path, payload=payload, stream=stream,
            client_wants_usage=bool(options.get("include_usage")),
            routing_key=routing_key(headers, payload, request_id),
            category=self.runtime.categories.label(raw_category(headers, payload)),
            trace_headers=trace_headers, started=started,
        )


def _span_attributes(request_id: str, path: str, exchange: ProxyExchange | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"http.request.method": "POST", "url.path": path, "quantgate.request_id": request_id}
    if exchange is not None:
        attributes.update({
            "http.response.status_code": int(exchange.status) if exchange.status.isdigit() else None,
            "quantgate.variant": exchange.variant.value, "quantgate.category": exchange.request.category,
            "quantgate.routing.reason": exchange.decision.reason,
            "quantgate.flags.version": exchange.decision.flags_version,
            "quantgate.shadowed": exchange.shadow_job is not None, "quantgate.failover": exchange.failed_over,
        })
    return attributes


class ProxyExchange:
    """One request's trip through a backend (two, after a failover)."""

    def __init__(self, runtime: GatewayRuntime, request: ProxyRequest, decision: RolloutDecision, send: Any,
                 shadowed: bool = False, span: Span | None = None) -> None:
        self.runtime = runtime
        self.span = span
        self.upstream_span: Span | None = None
        self.shadowed = shadowed
        self.shadow_job: ShadowJob | None = None
        self.captured: list[bytes] = []
        self.complete = False
        self.request = request
        self.decision = decision
        self.send = send
        self.variant: Variant = decision.variant
        self.status = "000"
        self.failed_over = False
        self.first_token_at: float | None = None
        self.output_tokens: int | None = None
        self.response_started = False
        self._gauge = runtime.metrics.in_flight_for(decision.variant.value)

    async def _open(self, backend: UpstreamBackend) -> tuple[UpstreamResponse, bytes]:
        """Response plus its first body bytes: until those exist, the candidate can still fail over."""
        tracing = self.runtime.tracing
        # The category goes upstream too, so backend logs (and the simulator's fault profiles) see the slice.
        extra = [("x-quantgate-category", self.request.category)]
        if tracing.enabled:
            headers = backend.request_headers(self.request.request_id, extra)
            self.upstream_span = tracing.child_span(self.span, f"upstream {backend.variant.value}")
            tracing.inject_headers(self.upstream_span, headers)
        else:
            # Not tracing ourselves: pass the caller's trace context on unchanged.
            headers = backend.request_headers(self.request.request_id, extra + self.request.trace_headers)
        try:
            body = backend.request_body(self.request.payload, self.request.stream)
            response = await backend.post(self.request.path, body, headers)
        except UpstreamFailure as exc:
            tracing.finish(self.upstream_span, {"quantgate.variant": backend.variant.value}, exc.message)
            raise
        try:
            if self.request.stream and response.status == 200:
                first = await response.read_some()
                if not first:
                    raise UpstreamFailure(f"{backend.variant.value} backend closed the stream before any data",
                                          variant=backend.variant.value)
            else:
                first = await response.read_all()
        except BaseException as exc:
            response.close()
            tracing.finish(self.upstream_span, {"quantgate.variant": backend.variant.value}, repr(exc))
            raise
        return response, first

    async def _open_with_failover(self) -> tuple[UpstreamResponse, bytes]:
        backends = self.runtime.backends
        backend = backends[self.variant]
        try:
            return await self._open(backend)
        except UpstreamFailure as exc:
            self.runtime.metrics.upstream_failed(self.variant.value, exc.reason)
            if self.variant is not Variant.CANDIDATE:
                raise
            self.runtime.metrics.failed_over(self.request.category, exc.reason)
            self.failed_over = True
            self.variant = Variant.BASELINE
        backend = backends[Variant.BASELINE]
        try:
            return await self._open(backend)
        except UpstreamFailure as exc:
            self.runtime.metrics.upstream_failed(Variant.BASELINE.value, exc.reason)
            raise

    def _response_headers(self, response: UpstreamResponse, streaming: bool) -> list[tuple[bytes, bytes]]:
        content_type = response.headers.get("content-type", "application/json")
        headers = [(b"content-type", content_type.encode("latin-1")),
                   (b"x-quantgate-variant", self.variant.value.encode()),
                   (b"x-request-id", self.request.request_id.encode("latin-1"))]
        if self.failed_over:
            headers.append((b"x-quantgate-failover", b"1"))
        if streaming:
            headers += [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        return headers

    async def run(self) -> None:
        """Forward the request and relay the answer; typed errors before the first byte go to the handler."""
        self._gauge.inc()
        self.runtime.primaries_in_flight += 1
        try:
            response, first = await self._open_with_failover()
            try:
                if self.shadowed:
                    self._start_shadow()
                if self.request.stream and response.status == 200:
                    await self._relay_stream(response, first)
                else:
                    await self._relay_whole(response, first)
            except BaseException:
                # Cancelled (the client left) or failed: drop the connection so the backend stops generating.
                response.close()
                raise
            # Read to the end: the connection goes back to the pool (aiohttp closes it if it is not reusable).
            response.release()
        finally:
            self.runtime.primaries_in_flight -= 1
            self._gauge.dec()
            self._hand_over_answer()
            if self.upstream_span is not None and self.upstream_span.is_recording():
                self.runtime.tracing.finish(self.upstream_span, {"quantgate.variant": self.variant.value,
                                                                 "quantgate.output_tokens": self.output_tokens})

    def _start_shadow(self) -> None:
        """Mirror to the other arm now that the primary has started; never after a failover."""
        if self.failed_over:
            self.runtime.quality.shadow_dropped("failover")
            return
        request = self.request
        job = ShadowJob(request.request_id, request.category, request.routing_key, request.path, request.payload,
                        request.stream, self.variant,
                        primary_span=self.span.get_span_context() if self.span is not None else None)
        if self.runtime.shadow.submit(job, self.runtime.primaries_in_flight):
            self.shadow_job = job

    def _hand_over_answer(self) -> None:
        """Give the finished answer to the detectors and to the waiting shadow (both run in the background)."""
        answer = None
        if self.complete:
            fmt = self.request.payload.get("response_format")
            answer = PrimaryAnswer(
                variant=self.variant.value, category=self.request.category, raw=b"".join(self.captured),
                streamed=self.request.stream, total_s=time.perf_counter() - self.request.started,
                ttft_s=None if self.first_token_at is None else self.first_token_at - self.request.started,
                usage_tokens=self.output_tokens, complete=True,
                response_format=fmt if isinstance(fmt, dict) else None,
                candidate_share=self.decision.candidate_share, payload=self.request.payload)
            self.runtime.judging.submit(answer)
        if self.shadow_job is not None:
            self.shadow_job.primary_finished(answer)

    async def _relay_whole(self, response: UpstreamResponse, body: bytes) -> None:
        if response.status == 200:
            try:
                usage = orjson.loads(body).get("usage") or {}
                tokens = usage.get("completion_tokens")
                self.output_tokens = tokens if isinstance(tokens, int) else None
            except (orjson.JSONDecodeError, AttributeError):
                pass
        self.status = str(response.status)
        self.response_started = True
        body = self.runtime.public_model.rewrite(self.variant, body)
        headers = self._response_headers(response, streaming=False)
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({"type": "http.response.start", "status": response.status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        if response.status == 200:
            self.captured.append(body)
            self.complete = True

    async def _relay_stream(self, response: UpstreamResponse, first: bytes) -> None:
        tap = SseTap(strip_usage=not self.request.client_wants_usage)
        send = self.send
        self.status = "200"
        self.response_started = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": self._response_headers(response, streaming=True)})
        chunk = first
        capture, capture_left = self.captured, self.runtime.settings.shadow.capture_max_bytes
        public_model, variant = self.runtime.public_model, self.variant
        out, ended = b"", False
        try:
            while chunk:
                out = public_model.rewrite(variant, tap.feed(chunk))
                # The upstream's end often arrives with its last events: finish the response in the same write.
                ended = response.at_eof()
                if out:
                    if capture_left > 0:
                        capture.append(out)
                        capture_left -= len(out)
                    if ended:
                        break
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                chunk = await response.read_some()
            self.complete = True
        except UpstreamFailure as exc:
            # Bytes already reached the client: no retry, tell it in-band the way vLLM does.
            out, ended = b"", False
            self.status = "502"
            self.runtime.metrics.upstream_failed(self.variant.value, "mid_stream")
            error = {"error": {"message": exc.message, "type": exc.error_type, "param": None, "code": 502}}
            held = tap.release()
            tap.flush()
            await send({"type": "http.response.body", "body": held + b"data: " + orjson.dumps(error) + b"\n\n",
                        "more_body": True})
        finally:
            self.first_token_at = tap.first_token_at
            self.output_tokens = tap.output_tokens()
        await send({"type": "http.response.body", "body": (out if ended else b"") + tap.flush(), "more_body": False})

    def record(self) -> None:
        """One metrics record per request, after it ended whichever way."""
        now = time.perf_counter()
        started = self.request.started
        self.runtime.metrics.observe_request(RequestRecord(
            variant=self.variant.value, category=self.request.category, endpoint=self.request.endpoint,
            status=self.status, streamed=self.request.stream, total_s=now - started,
            ttft_s=None if self.first_token_at is None else self.first_token_at - started,
            output_tokens=self.output_tokens, trace_id=self.runtime.tracing.trace_id(self.span),
            candidate_share=self.decision.candidate_share,
        ))
