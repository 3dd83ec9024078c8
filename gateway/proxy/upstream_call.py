"""The upstream side of one request: open the chosen backend, fail over to the baseline before the first byte."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span

from flags.model import Variant
from gateway.proxy.protocol import ProxyRequest
from monitors.metrics import GatewayMetrics
from wire.errors import UpstreamFailure
from wire.tracing import GatewayTracing
from wire.upstream import UpstreamBackend, UpstreamResponse


class UpstreamCall:
    """Policy over the transport: which backend is asked, and when a failure may still move the request.

    A candidate that fails before any body byte exists (connect error, timeout, 5xx, empty stream) is asked
    again on the baseline, once; the baseline failing is the client's error.
    """

    # One of these per request: no per-instance __dict__ on the hot path.
    __slots__ = ("backends", "metrics", "tracing", "request", "variant", "failed_over", "span", "upstream_span")

    def __init__(self, backends: dict[Variant, UpstreamBackend], metrics: GatewayMetrics, tracing: GatewayTracing,
                 request: ProxyRequest, variant: Variant, span: Span | None) -> None:
        self.backends = backends
        self.metrics = metrics
        self.tracing = tracing
        self.request = request
        self.variant = variant
        self.failed_over = False
        self.span = span
        self.upstream_span: Span | None = None

    async def open(self) -> tuple[UpstreamResponse, bytes]:
        """The response and its first body bytes, from the routed arm or, after a failover, the baseline."""
        try:
            return await self._open(self.backends[self.variant])
        except UpstreamFailure as exc:
            self.metrics.upstream_failed(self.variant.value, exc.reason)
            if self.variant is not Variant.CANDIDATE:
                raise
            self.metrics.failed_over(self.request.category, exc.reason)
            self.failed_over = True
            self.variant = Variant.BASELINE
        try:
            return await self._open(self.backends[Variant.BASELINE])
        except UpstreamFailure as exc:
            self.metrics.upstream_failed(Variant.BASELINE.value, exc.reason)
            raise

    def _headers(self, backend: UpstreamBackend) -> dict[str, str]:
        # The category goes upstream too, so backend logs (and the simulator's fault profiles) see the slice.
        extra = [("x-quantgate-category", self.request.category)]
        if not self.tracing.enabled:
            # Not tracing ourselves: pass the caller's trace context on unchanged.
            return backend.request_headers(self.request.request_id, extra + self.request.trace_headers)
        headers = backend.request_headers(self.request.request_id, extra)
        self.upstream_span = self.tracing.child_span(self.span, f"upstream {backend.variant.value}")
        self.tracing.inject_headers(self.upstream_span, headers)
        return headers

    async def _open(self, backend: UpstreamBackend) -> tuple[UpstreamResponse, bytes]:
        """Response plus its first body bytes: until those exist, the candidate can still fail over."""
        headers = self._headers(backend)
        try:
            body = backend.request_body(self.request.payload, self.request.stream)
            response = await backend.post(self.request.path, body, headers)
        except UpstreamFailure as exc:
            self.tracing.finish(self.upstream_span, {"quantgate.variant": backend.variant.value}, exc.message)
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
            self.tracing.finish(self.upstream_span, {"quantgate.variant": backend.variant.value}, repr(exc))
            raise
        return response, first

    def finish_span(self, attributes: dict[str, Any]) -> None:
        """Close the upstream span (if one is still open) once the answer is relayed."""
        if self.upstream_span is not None and self.upstream_span.is_recording():
            self.tracing.finish(self.upstream_span, {"quantgate.variant": self.variant.value, **attributes})
