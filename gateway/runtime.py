"""Everything one gateway worker holds while it serves, built from the settings and passed down explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from opentelemetry.sdk.trace import TracerProvider

from flags.access_store import AccessStore
from flags.cache import FlagCache
from flags.comparisons import ComparisonStore
from flags.feedback_store import FeedbackRow, FeedbackStore
from flags.model import FlagSet, Variant
from flags.store import FlagStore
from gateway.auth_throttle import LoginThrottle
from gateway.backend_check import BackendCheck, check_backends
from gateway.feedback.served import ServedAnswers
from gateway.feedback.token import FeedbackTokens
from gateway.feedback.writer import FeedbackWriter
from gateway.public_model import PublicModelName
from gateway.routing import CategoryLabels
from gateway.settings import GatewaySettings
from gateway.validation_state import VARIANTS, ValidationState
from monitors.analysis.policy import RegressionPolicy, load_policy
from monitors.metrics import GatewayMetrics
from monitors.quality.detectors.answer import AnswerJudge
from monitors.quality.judging import AnswerJudging
from monitors.quality.metrics import QualityMetrics
from shadow.mirror import ShadowContext, ShadowMirror
from shadow.redaction import load_redactor
from shadow.writer import ComparisonWriter
from wire.tracing import GatewayTracing
from wire.upstream import UpstreamBackend


@dataclass
class GatewayRuntime:
    """Settings, flag store and cache, metrics, and one upstream client per backend."""

    settings: GatewaySettings
    store: FlagStore
    flags: FlagCache
    metrics: GatewayMetrics
    backends: dict[Variant, UpstreamBackend]
    categories: CategoryLabels
    quality: QualityMetrics
    judging: AnswerJudging
    comparisons: ComparisonStore
    writer: ComparisonWriter
    shadow: ShadowMirror
    policy: RegressionPolicy
    tracing: GatewayTracing
    public_model: PublicModelName
    validation: ValidationState
    access: AccessStore
    throttle: LoginThrottle
    # Signs the feedback token of every answer, and writes the signals sent back (None: not configured).
    feedback_tokens: FeedbackTokens | None = None
    feedback_writer: FeedbackWriter | None = None
    # Answers that carried a token, written to the store for the guard's feedback rates (None: not configured).
    feedback_served: ServedAnswers | None = None
    primaries_in_flight: int = 0
    backend_checks: list[BackendCheck] = field(default_factory=list)
    _check_task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: GatewaySettings, tracer_provider: TracerProvider | None = None) -> GatewayRuntime:
        """Wire the parts; nothing touches the network or the store until `start`."""
        metrics = GatewayMetrics()
        store = FlagStore(settings.flag_store_url, settings.flag_store_timeouts)

        def publish(flags: FlagSet, cache: FlagCache) -> None:
            metrics.observe_flags(flags.rollout_percent, flags.shadow_percent, flags.rollback, flags.version,
                                  cache.store_up(), cache.staleness_s())

        backends = {
            Variant.BASELINE: UpstreamBackend(Variant.BASELINE, settings.baseline),
            Variant.CANDIDATE: UpstreamBackend(Variant.CANDIDATE, settings.candidate),
        }
        quality = QualityMetrics(metrics.registry)
        policy = load_policy(settings.policy_file)
        tracing = GatewayTracing(tracer_provider)
        judge = AnswerJudge(settings.detectors)
        comparisons = ComparisonStore(settings.flag_store_url)
        writer = ComparisonWriter(comparisons, settings.comparisons,
                                  on_drop=quality.shadow_dropped)
        context = ShadowContext(
            backends=backends,
            stamps={Variant.BASELINE: settings.baseline.stamp.as_labels(),
                    Variant.CANDIDATE: settings.candidate.stamp.as_labels()},
            judge=judge, metrics=quality, writer=writer, record_settings=settings.comparisons,
            redact=load_redactor(settings.comparisons.redaction), tracing=tracing,
        )
        access = AccessStore(store)
        return cls(
            settings=settings,
            store=store,
            access=access,
            throttle=LoginThrottle(access, settings.auth_failure_limit, settings.auth_failure_window_s),
            flags=FlagCache(store, settings.flag_poll_interval_s, on_refresh=publish),
            metrics=metrics,
            backends=backends,
            categories=CategoryLabels(settings.categories, settings.max_categories, reserved=list(policy.categories),
                                      on_overflow=metrics.category_overflow.inc),
            public_model=PublicModelName(settings),
            quality=quality,
            judging=AnswerJudging(judge, quality, settings.shadow.judging_queue_size),
            comparisons=comparisons,
            writer=writer,
            shadow=ShadowMirror(settings.shadow, context),
            policy=policy,
            tracing=tracing,
            validation=ValidationState.of(settings, policy),
            feedback_tokens=(FeedbackTokens(settings.feedback.secrets(), settings.feedback.token_ttl_s)
                             if settings.feedback.keys else None),
            feedback_writer=_feedback_writer(settings, quality, policy),
            feedback_served=(ServedAnswers(FeedbackStore(settings.flag_store_url, settings.flag_store_timeouts),
                                           settings.feedback.served_flush_s) if settings.feedback.keys else None),
        )

    async def start(self, serves_traffic: bool = True) -> None:
        """Open upstream pools and start polling flags; never waits for the store.

        `serves_traffic` is False in the admin-port process: it shares the metrics view but is no serving worker.
        """
        for variant, backend in self.backends.items():
            await backend.open()
            self.metrics.describe_backend(variant.value, backend.settings.name, backend.settings.served_model_name,
                                          backend.settings.stamp.as_labels(), backend.settings.hourly_cost_usd)
        known = self.categories.known()
        self.metrics.create_known_series(VARIANTS, known)
        self.quality.create_known_series(VARIANTS, known)
        self.flags.start()
        self.metrics.workers.set(1 if serves_traffic else 0)
        self._check_task = asyncio.create_task(self._check_backends_forever(), name="quantgate-backend-check")
        self.judging.start()
        self.writer.start()
        self.shadow.start()
        if self.feedback_writer is not None and serves_traffic:
            self.feedback_writer.start()
        if self.feedback_served is not None and serves_traffic:
            self.feedback_served.start()

    async def refresh_backends(self) -> None:
        """Check every backend's identity now and re-read the validation in force (the gate's inputs)."""
        try:
            self.backend_checks = await check_backends(list(self.backends.values()))
        except Exception:  # noqa: BLE001 - a check must never take the gateway down
            logging.getLogger("quantgate.backends").exception("backend check failed")
        self.validation.observe(self.backend_checks)
        await asyncio.to_thread(self.validation.reload, self.store)
        self.metrics.observe_validation(self.validation.enabled,
                                        {variant: self.validation.valid(variant) for variant in VARIANTS})

    async def _check_backends_forever(self) -> None:
        while True:
            await self.refresh_backends()
            for check in self.backend_checks:
                self.metrics.observe_stamp_check(check.variant, ("served_model_name", "runtime_version", "reachable"),
                                                 set(check.mismatches))
                if check.mismatches:
                    logging.getLogger("quantgate.backends").warning("%s backend differs from its stamp: %s",
                                                                    check.variant, check.mismatches)
            await asyncio.sleep(self.settings.backend_check_interval_s)

    async def stop(self) -> None:
        """Stop polling and close every upstream connection."""
        if self._check_task is not None:
            self._check_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check_task
        await self.shadow.stop()
        await self.judging.stop()
        await self.writer.stop()
        if self.feedback_writer is not None:
            await self.feedback_writer.stop()
        if self.feedback_served is not None:
            await self.feedback_served.stop()
        await self.flags.stop()
        for backend in self.backends.values():
            await backend.close()
        self.store.close()
        self.comparisons.close()
        await self.tracing.shutdown()


def _feedback_writer(settings: GatewaySettings, quality: QualityMetrics,
                     policy: RegressionPolicy) -> FeedbackWriter | None:
    """The feedback writer over the flag store's database; each recorded signal counted for the live verdicts."""
    if not settings.feedback.keys:
        return None

    signals = policy.feedback

    def recorded(row: FeedbackRow) -> None:
        # A score is stored whatever it is; only a low one is the judged event the verdicts and the alert count.
        declared = signals.get(row.signal)
        if declared is not None and declared.counts(row.value):
            quality.observe_feedback(row.variant, row.category, row.candidate_share, row.key_group, row.signal)

    return FeedbackWriter(FeedbackStore(settings.flag_store_url, settings.flag_store_timeouts), recorded)
