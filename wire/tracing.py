"""OpenTelemetry traces: a server span per request, child spans upstream, linked shadow spans.

Off unless configured: the standard OTEL_* variables (read once, at start-up, by `tracing_from_environment`)
turn on an OTLP/HTTP exporter; tests hand in their own provider with an in-memory exporter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

_CONFIG_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_from_environment() -> TracerProvider | None:
    """A provider exporting over OTLP when OTEL_* says where to, else None (tracing off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not any(os.environ.get(name) for name in _CONFIG_VARIABLES):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                        "quantgate")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class GatewayTracing:
    """Thin wrapper so the hot path pays nothing when tracing is off."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("quantgate.gateway") if provider is not None else None

    @property
    def enabled(self) -> bool:
        """True when spans are recorded."""
        return self.tracer is not None

    def server_span(self, name: str, headers: Mapping[str, str]) -> Span | None:
        """Start the request's server span, continuing the caller's trace when it sent traceparent."""
        if self.tracer is None:
            return None
        return self.tracer.start_span(name, context=extract(dict(headers)), kind=SpanKind.SERVER)

    def child_span(self, parent: Span | None, name: str, kind: SpanKind = SpanKind.CLIENT,
                   links: list[Link] | None = None) -> Span | None:
        """A span under `parent` (or a new root linked to others, for shadows)."""
        if self.tracer is None:
            return None
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self.tracer.start_span(name, context=context, kind=kind, links=links)

    @staticmethod
    def inject_headers(span: Span | None, headers: dict[str, str]) -> None:
        """Add traceparent/tracestate of `span` to upstream headers (vLLM continues the trace)."""
        if span is not None:
            inject(headers, context=trace.set_span_in_context(span))

    @staticmethod
    def finish(span: Span | None, attributes: dict[str, Any], error: str | None = None) -> None:
        """Set attributes and end the span."""
        if span is None:
            return
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    @staticmethod
    def trace_id(span: Span | None) -> str | None:
        """Hex trace id for exemplars."""
        if span is None:
            return None
        return format(span.get_span_context().trace_id, "032x")

    async def shutdown(self) -> None:
        """Flush and stop the exporter."""
        if self.provider is not None:
            self.provider.shutdown()
