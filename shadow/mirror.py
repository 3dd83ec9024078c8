"""Mirroring: send the primary's request to the other arm, read the whole answer, compare, record.

The primary never waits for any of this: shadows run on their own worker tasks, bounded in number,
behind a bounded queue; anything that does not fit is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from flags.model import Variant
from monitors.quality.answer import CapturedAnswer, captured, prompt_text
from monitors.quality.detectors.answer import AnswerJudge
from monitors.quality.judging import PrimaryAnswer, judge_answer, prompt_language
from monitors.quality.metrics import QualityMetrics
from shadow.breaker import BreakerState, ShadowBreaker
from shadow.compare import ShadowComparison, compare
from shadow.redaction import Redactor
from shadow.sampling import key_hash
from shadow.settings import ComparisonStoreSettings, ShadowSettings
from shadow.writer import CensoredShadow, ComparisonWriter, censored_row, comparison_row, failed_row
from wire.errors import UpstreamFailure
from wire.sse import SseTap
from wire.tracing import GatewayTracing
from wire.upstream import UpstreamBackend

log = logging.getLogger("quantgate.shadow")
SHADOW_HEADER = "x-quantgate-shadow"


class ShadowFailed(Exception):
    """The shadow arm did not produce a usable answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AttemptClock:
    """When a shadow attempt started and, once seen, its first token (seconds after the start)."""

    started: float
    first_token_s: float | None = None


@dataclass
class ShadowJob:
    """One request to mirror, and a future the proxy resolves when its own answer is complete."""

    request_id: str
    category: str
    routing_key: str
    path: str
    payload: dict[str, Any]
    streamed: bool
    primary_variant: Variant
    primary_span: SpanContext | None = None
    primary: asyncio.Future[PrimaryAnswer | None] = field(default_factory=lambda: asyncio.get_running_loop()
                                                          .create_future())

    def primary_finished(self, answer: PrimaryAnswer | None) -> None:
        """Hand over the primary's answer (None when it did not complete)."""
        if not self.primary.done():
            self.primary.set_result(answer)


@dataclass
class ShadowContext:
    """What the mirror needs from the gateway, passed in explicitly."""

    backends: dict[Variant, UpstreamBackend]
    stamps: dict[Variant, dict[str, str]]
    judge: AnswerJudge
    metrics: QualityMetrics
    writer: ComparisonWriter
    record_settings: ComparisonStoreSettings
    redact: Redactor
    tracing: GatewayTracing
    segment_words: int = 256


class ShadowMirror:
    """Bounded pool of shadow workers."""

    def __init__(self, settings: ShadowSettings, context: ShadowContext) -> None:
        self.settings = settings
        self.ctx = context
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue(maxsize=max(1, settings.queue_size))
        self._workers: list[asyncio.Task[None]] = []
        self.completed = 0
        self.breakers = {variant: ShadowBreaker(settings, self._circuit_reporter(variant)) for variant in Variant}

    def _circuit_reporter(self, variant: Variant) -> Callable[[BreakerState], None]:
        def report(state: BreakerState) -> None:
            log.warning("shadow circuit to %s is %s", variant.value, state.value)
            self.ctx.metrics.circuit(variant.value, state is not BreakerState.CLOSED)
        return report

    def submit(self, job: ShadowJob, primaries_in_flight: int) -> bool:
        """Queue a shadow unless the queue is full, primaries need the capacity or the target's circuit is open."""
        limit = self.settings.shed_above_primary_in_flight
        if limit and primaries_in_flight > limit:
            return self._drop("load")
        if self.breakers[job.primary_variant.other()].shedding():
            self._record_failed(job, job.primary_variant.other(), "circuit_open")
            return self._drop("circuit_open")
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            return self._drop("queue_full")
        self.ctx.metrics.queued.inc()
        return True

    def _drop(self, reason: str) -> bool:
        self.ctx.metrics.shadow_dropped(reason)
        return False

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            self.ctx.metrics.queued.dec()
            self.ctx.metrics.in_flight.inc()
            try:
                await self._run(job)
            except Exception:  # noqa: BLE001 - a shadow failure never reaches anyone but the metrics
                log.exception("shadow comparison failed")
                self._drop("error")
            finally:
                self.ctx.metrics.in_flight.dec()

    async def _run(self, job: ShadowJob) -> None:
        tracing = self.ctx.tracing
        links = [Link(job.primary_span)] if job.primary_span is not None else None
        span = tracing.child_span(None, f"shadow {job.primary_variant.other().value}", links=links)
        outcome = "error"
        try:
            outcome = await self._mirror(job, span)
        finally:
            tracing.finish(span, {"quantgate.category": job.category, "quantgate.request_id": job.request_id,
                                  "quantgate.shadow.outcome": outcome})

    async def _primary(self, job: ShadowJob) -> PrimaryAnswer | None:
        try:
            primary = await asyncio.wait_for(asyncio.shield(job.primary), self.settings.primary_wait_s)
        except TimeoutError:
            return None
        return primary if primary is not None and primary.complete else None

    async def _mirror(self, job: ShadowJob, span: Span | None) -> str:
        target = job.primary_variant.other()
        clock = AttemptClock(time.perf_counter())
        outcome, shadow = await self._attempt(job, target, span, clock)
        if shadow is None:
            self._drop(outcome)
            # Counted against the target on prompts the primary answered. A shadow given up on was still slow: its
            # latency is known to be at least the time waited.
            if (primary := await self._primary(job)) is not None:
                if outcome in ("timeout", "abandoned"):
                    self._record_censored(job, primary.parse(), target, clock, outcome)
                else:
                    self._record_failed(job, target, outcome)
            return outcome
        self.ctx.metrics.shadow_sent(target.value, "ok")
        primary = await self._primary(job)
        if primary is None:
            self._drop("primary_incomplete")
            return "primary_incomplete"
        comparison_span = self.ctx.tracing.child_span(span, "shadow comparison", kind=SpanKind.INTERNAL)
        try:
            self._record(job, primary.parse(), shadow)
        finally:
            self.ctx.tracing.finish(comparison_span, {"quantgate.category": job.category})
        return "compared"

    async def _attempt(self, job: ShadowJob, target: Variant, span: Span | None,
                       clock: AttemptClock) -> tuple[str, CapturedAnswer | None]:
        """One shadow request under the target's breaker: (outcome, answer or None)."""
        breaker, metrics = self.breakers[target], self.ctx.metrics
        first_byte_s = breaker.admit()
        if first_byte_s is None:
            return "circuit_open", None
        attempt = asyncio.ensure_future(self._call(job, target, span, first_byte_s, breaker, clock))
        breaker.sent(attempt)
        try:
            shadow = await asyncio.wait_for(attempt, self.settings.timeout_s)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the gateway is stopping, not the breaker abandoning a hung attempt
            metrics.shadow_sent(target.value, "abandoned")
            return "abandoned", None
        except TimeoutError:
            breaker.finished(attempt, ok=False)
            metrics.shadow_sent(target.value, "timeout")
            return "timeout", None
        except (ShadowFailed, UpstreamFailure) as exc:
            # A 4xx is the request's fault, not the target's: it still shows the target is answering.
            breaker.finished(attempt, ok=isinstance(exc, ShadowFailed) and exc.status < 500)
            metrics.shadow_sent(target.value, "error")
            log.info("shadow to %s failed: %s", target.value, exc)
            return "shadow_error", None
        breaker.finished(attempt, ok=True)
        return "ok", shadow

    async def _call(self, job: ShadowJob, target: Variant, span: Span | None, first_byte_s: float,
                    breaker: ShadowBreaker, clock: AttemptClock) -> CapturedAnswer:
        backend = self.ctx.backends[target]
        headers = backend.request_headers(f"{job.request_id}-shadow", [(SHADOW_HEADER, "1"),
                                                                       ("x-quantgate-category", job.category)])
        self.ctx.tracing.inject_headers(span, headers)
        started = clock.started
        loop, attempt = asyncio.get_running_loop(), asyncio.current_task()
        # Always streamed, whatever the primary did: a hung target shows at the first token, not after a whole
        # answer's worth of waiting; the answer is the same tokens either way.
        body = backend.request_body({**job.payload, "stream": True}, True)
        async with asyncio.timeout(first_byte_s) as deadline:
            response = await backend.post(job.path, body, headers)
            try:
                if response.status != 200:
                    raise ShadowFailed(f"{target.value} answered {response.status}", response.status)
                tap, chunks = SseTap(strip_usage=False), []
                while chunk := await response.read_some():
                    if not chunks and attempt is not None:
                        breaker.first_byte(attempt)
                    deadline.reschedule(loop.time() + self.settings.idle_timeout_s)
                    tap.feed(chunk)
                    chunks.append(chunk)
                    if clock.first_token_s is None and tap.first_token_at is not None:
                        clock.first_token_s = tap.first_token_at - started
                ttft = None if tap.first_token_at is None else tap.first_token_at - started
                answer = captured(target.value, b"".join(chunks), True, ttft, time.perf_counter() - started, True,
                                  tap.output_tokens())
            except BaseException:
                response.close()
                raise
        response.release()
        return answer

    def _record(self, job: ShadowJob, primary: CapturedAnswer, shadow: CapturedAnswer) -> None:
        ctx = self.ctx
        fmt = job.payload.get("response_format") if isinstance(job.payload.get("response_format"), dict) else None
        language = prompt_language(ctx.judge, job.payload)
        shadow_judgement = judge_answer(ctx.judge, shadow, fmt, job.category, language)
        ctx.metrics.observe_answer(shadow.variant, job.category, "shadow", shadow_judgement)
        primary_judgement = judge_answer(ctx.judge, primary, fmt, job.category, language)
        if job.primary_variant is Variant.BASELINE:
            pair = (primary, shadow, primary_judgement, shadow_judgement)
        else:
            pair = (shadow, primary, shadow_judgement, primary_judgement)
        comparison = compare(job.request_id, job.category, job.primary_variant.value, *pair,
                             segment_words=ctx.segment_words)
        self._observe(comparison)
        stamps = (ctx.stamps[Variant.BASELINE], ctx.stamps[Variant.CANDIDATE])
        ctx.writer.submit(comparison_row(comparison, key_hash(job.routing_key), stamps, prompt_text(job.payload),
                                         ctx.record_settings, ctx.redact))
        self.completed += 1

    def _record_censored(self, job: ShadowJob, primary: CapturedAnswer, target: Variant, clock: AttemptClock,
                         failure: str) -> None:
        """A shadow that timed out still counts in the latency quantiles: censored at the time waited."""
        ctx = self.ctx
        fmt = job.payload.get("response_format") if isinstance(job.payload.get("response_format"), dict) else None
        judgement = judge_answer(ctx.judge, primary, fmt, job.category)
        stamps = (ctx.stamps[Variant.BASELINE], ctx.stamps[Variant.CANDIDATE])
        waited = CensoredShadow(target.value, clock.first_token_s, time.perf_counter() - clock.started, failure)
        ctx.writer.submit(censored_row(job.request_id, job.category, key_hash(job.routing_key), primary, judgement,
                                       waited, stamps))

    def _record_failed(self, job: ShadowJob, target: Variant, failure: str) -> None:
        """A shadow that failed (an error, an open circuit) counts against its arm in the failure rate."""
        ctx = self.ctx
        stamps = (ctx.stamps[Variant.BASELINE], ctx.stamps[Variant.CANDIDATE])
        ctx.writer.submit(failed_row(job.request_id, job.category, key_hash(job.routing_key), target.value, failure,
                                     stamps))

    def _observe(self, comparison: ShadowComparison) -> None:
        f = comparison.figures
        self.ctx.metrics.observe_pair(
            comparison.category, f.exact_match, f.similarity, f.similarity_head, f.similarity_tail, f.length_ratio,
            {"refusal": comparison.refusal_flip, "format": comparison.format_flip,
             "repetition": comparison.repetition_flip, "language": comparison.language_flip})

    def start(self) -> None:
        """Start the shadow workers."""
        self._workers = [asyncio.create_task(self._worker(), name=f"quantgate-shadow-{i}")
                         for i in range(self.settings.max_in_flight)]

    async def stop(self) -> None:
        """Cancel in-flight shadows (they never matter more than shutting down)."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._workers = []
