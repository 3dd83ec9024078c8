"""The client side of one request: relay the backend's answer as it arrives, and keep a bounded copy of it."""

from __future__ import annotations

from typing import Any

import orjson

from flags.model import Variant
from gateway.proxy.protocol import ProxyRequest
from gateway.public_model import PublicModelName
from monitors.metrics import GatewayMetrics
from wire.errors import UpstreamFailure
from wire.sse import SseTap
from wire.upstream import UpstreamResponse

# The answer's feedback token: the openai SDK reads it from the raw response (`with_raw_response`).
FEEDBACK_HEADER = b"x-quantgate-feedback-token"


class AnswerRelay:
    """Sends one answer to the client (whole or as SSE events) and captures it for the detectors and shadow.

    Owns the SSE tap (first-token time, usage, the usage chunk the client did not ask for) and the capture,
    bounded by `capture_max_bytes`. What reached the client is never retried: a stream that breaks mid-way
    ends with an in-band error event, as vLLM's do.
    """

    # One of these per request: no per-instance __dict__ on the hot path.
    __slots__ = ("request", "send", "public_model", "metrics", "capture_max_bytes", "status", "response_started",
                 "complete", "captured", "first_token_at", "output_tokens", "feedback_token")

    def __init__(self, request: ProxyRequest, send: Any, public_model: PublicModelName, metrics: GatewayMetrics,
                 capture_max_bytes: int) -> None:
        self.request = request
        self.send = send
        self.public_model = public_model
        self.metrics = metrics
        self.capture_max_bytes = capture_max_bytes
        self.status = "000"
        self.response_started = False
        self.complete = False
        self.captured: list[bytes] = []
        self.first_token_at: float | None = None
        self.output_tokens: int | None = None
        # The answer's signed feedback token (gateway.feedback.token), sent with a successful answer.
        self.feedback_token: bytes | None = None

    async def relay(self, response: UpstreamResponse, first: bytes, variant: Variant, failed_over: bool) -> None:
        """Relay the whole answer whose first bytes are `first`."""
        if self.request.stream and response.status == 200:
            await self._relay_stream(response, first, variant, failed_over)
        else:
            await self._relay_whole(response, first, variant, failed_over)

    def _headers(self, response: UpstreamResponse, variant: Variant, failed_over: bool,
                 streaming: bool) -> list[tuple[bytes, bytes]]:
        content_type = response.headers.get("content-type", "application/json")
        headers = [(b"content-type", content_type.encode("latin-1")),
                   (b"x-quantgate-variant", variant.value.encode()),
                   (b"x-request-id", self.request.request_id.encode("latin-1"))]
        if failed_over:
            headers.append((b"x-quantgate-failover", b"1"))
        if self.feedback_token is not None and response.status == 200:
            headers.append((FEEDBACK_HEADER, self.feedback_token))
        if streaming:
            headers += [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        return headers

    async def _relay_whole(self, response: UpstreamResponse, body: bytes, variant: Variant, failed_over: bool) -> None:
        if response.status == 200:
            try:
                usage = orjson.loads(body).get("usage") or {}
                tokens = usage.get("completion_tokens")
                self.output_tokens = tokens if isinstance(tokens, int) else None
            except (orjson.JSONDecodeError, AttributeError):
                pass
        self.status = str(response.status)
        self.response_started = True
        body = self.public_model.rewrite(variant, body)
        headers = self._headers(response, variant, failed_over, streaming=False)
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({"type": "http.response.start", "status": response.status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        if response.status == 200:
            self.captured.append(body)
            self.complete = True

    async def _relay_stream(self, response: UpstreamResponse, first: bytes, variant: Variant,
                            failed_over: bool) -> None:
        tap = SseTap(strip_usage=not self.request.client_wants_usage)
        send = self.send
        self.status = "200"
        self.response_started = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": self._headers(response, variant, failed_over, streaming=True)})
        chunk = first
        capture, capture_left = self.captured, self.capture_max_bytes
        public_model = self.public_model
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
            out, ended = b"", False
            self.status = "502"
            self.metrics.upstream_failed(variant.value, "mid_stream")
            await send({"type": "http.response.body", "body": _in_band_error(tap, exc), "more_body": True})
        finally:
            self.first_token_at = tap.first_token_at
            self.output_tokens = tap.output_tokens()
        await send({"type": "http.response.body", "body": (out if ended else b"") + tap.flush(), "more_body": False})


def _in_band_error(tap: SseTap, exc: UpstreamFailure) -> bytes:
    """The events held back so far, then an error event (bytes already reached the client: no retry)."""
    error = {"error": {"message": exc.message, "type": exc.error_type, "param": None, "code": 502}}
    held = tap.release()
    tap.flush()
    return held + b"data: " + orjson.dumps(error) + b"\n\n"
