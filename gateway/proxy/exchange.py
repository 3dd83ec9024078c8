"""One request's trip, coordinated: the upstream call, the relay, the shadow, the detectors, the record."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.trace import Span

from flags.bucketing import live_key_group
from flags.model import Variant
from gateway.proxy.protocol import ProxyRequest
from gateway.proxy.relay import AnswerRelay
from gateway.proxy.route import RoutePlan
from gateway.proxy.upstream_call import UpstreamCall
from gateway.runtime import GatewayRuntime
from monitors.metrics import RequestRecord
from monitors.quality.judging import PrimaryAnswer
from shadow.mirror import ShadowJob


class ProxyExchange:
    """A thin coordinator: the upstream call decides where the request goes, the relay answers the client;
    this starts the shadow once the primary has started, and hands the answer on when it ends."""

    # One of these per request: no per-instance __dict__ on the hot path.
    __slots__ = ("runtime", "request", "plan", "span", "shadow_job", "call", "relay", "status_override", "_gauge")

    def __init__(self, runtime: GatewayRuntime, request: ProxyRequest, plan: RoutePlan, send: Any,
                 span: Span | None = None) -> None:
        self.runtime = runtime
        self.request = request
        self.plan = plan
        self.span = span
        self.shadow_job: ShadowJob | None = None
        self.call = UpstreamCall(runtime.backends, runtime.metrics, runtime.tracing, request, plan.decision.variant,
                                 span)
        self.relay = AnswerRelay(request, send, runtime.public_model, runtime.metrics,
                                 runtime.settings.shadow.capture_max_bytes)
        # Set by the endpoint when the client left or the answer was an error body.
        self.status_override: str | None = None
        self._gauge = runtime.metrics.in_flight_for(plan.decision.variant.value)

    @property
    def variant(self) -> Variant:
        """The arm answering now (the baseline after a failover)."""
        return self.call.variant

    @property
    def status(self) -> str:
        """The status the client saw (499 if it left)."""
        return self.status_override or self.relay.status

    @property
    def response_started(self) -> bool:
        """Whether the client has had the response's start: after it, errors can only go in-band."""
        return self.relay.response_started

    async def run(self) -> None:
        """Forward the request and relay the answer; typed errors before the first byte go to the endpoint."""
        runtime = self.runtime
        self._gauge.inc()
        runtime.primaries_in_flight += 1
        try:
            response, first = await self.call.open()
            try:
                if self.plan.shadowed:
                    self._start_shadow()
                if runtime.feedback_tokens is not None:
                    self._issue_feedback_token()
                await self.relay.relay(response, first, self.call.variant, self.call.failed_over)
            except BaseException:
                # Cancelled (the client left) or failed: drop the connection so the backend stops generating.
                response.close()
                raise
            # Read to the end: the connection goes back to the pool (aiohttp closes it if it is not reusable).
            response.release()
        finally:
            runtime.primaries_in_flight -= 1
            self._gauge.dec()
            self._hand_over_answer()
            self.call.finish_span({"quantgate.output_tokens": self.relay.output_tokens})

    def _issue_feedback_token(self) -> None:
        """Sign the answer's token, and count the answer among those that can get a signal (the guard's rates)."""
        request, runtime = self.request, self.runtime
        variant, share = self.call.variant.value, self.plan.decision.candidate_share
        group = live_key_group(request.routing_key)
        self.relay.feedback_token = runtime.feedback_tokens.issue(  # type: ignore[union-attr]
            variant, request.category, share, group).encode("ascii")
        if runtime.feedback_served is not None:
            runtime.feedback_served.count(variant, request.category, share, group)

    def _start_shadow(self) -> None:
        """Mirror to the other arm now that the primary has started; never after a failover."""
        if self.call.failed_over:
            self.runtime.quality.shadow_dropped("failover")
            return
        request = self.request
        job = ShadowJob(request.request_id, request.category, request.routing_key, request.path, request.payload,
                        request.stream, self.call.variant,
                        primary_span=self.span.get_span_context() if self.span is not None else None)
        if self.runtime.shadow.submit(job, self.runtime.primaries_in_flight):
            self.shadow_job = job

    def _hand_over_answer(self) -> None:
        """Give the finished answer to the detectors and to the waiting shadow (both run in the background)."""
        answer, relay = None, self.relay
        if relay.complete:
            fmt = self.request.payload.get("response_format")
            started = self.request.started
            answer = PrimaryAnswer(
                variant=self.call.variant.value, category=self.request.category, raw=b"".join(relay.captured),
                streamed=self.request.stream, total_s=time.perf_counter() - started,
                ttft_s=None if relay.first_token_at is None else relay.first_token_at - started,
                usage_tokens=relay.output_tokens, complete=True,
                response_format=fmt if isinstance(fmt, dict) else None,
                candidate_share=self.plan.decision.candidate_share, payload=self.request.payload,
                routing_key=self.request.routing_key)
            self.runtime.judging.submit(answer)
        if self.shadow_job is not None:
            self.shadow_job.primary_finished(answer)

    def record(self) -> None:
        """One metrics record per request, after it ended whichever way."""
        started, relay = self.request.started, self.relay
        self.runtime.metrics.observe_request(RequestRecord(
            variant=self.call.variant.value, category=self.request.category, endpoint=self.request.endpoint,
            status=self.status, streamed=self.request.stream, total_s=time.perf_counter() - started,
            ttft_s=None if relay.first_token_at is None else relay.first_token_at - started,
            output_tokens=relay.output_tokens, trace_id=self.runtime.tracing.trace_id(self.span),
            candidate_share=self.plan.decision.candidate_share, routing_key=self.request.routing_key,
        ))

    def span_attributes(self) -> dict[str, Any]:
        """What the server span says about this exchange."""
        decision = self.plan.decision
        return {"http.response.status_code": int(self.status) if self.status.isdigit() else None,
                "quantgate.variant": self.call.variant.value, "quantgate.category": self.request.category,
                "quantgate.routing.reason": decision.reason, "quantgate.flags.version": decision.flags_version,
                "quantgate.shadowed": self.shadow_job is not None, "quantgate.failover": self.call.failed_over}
