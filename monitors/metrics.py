"""Prometheus metrics of the gateway, per variant and category; multiprocess-safe under several workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from flags.bucketing import live_key_group
from monitors.strata_labels import KEY_GROUP_FAMILIES, KEY_GROUP_ITL_SERIES, KEY_GROUP_TTFT_SERIES, StratumLabels
from wire.endpoints import COMPLETION_ENDPOINTS

# Buckets follow vLLM's own serving histograms, with finer steps at the fast end so a
# quantized model's TTFT gain (often tens of ms) is visible.
TTFT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
                1.0, 1.5, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                    45.0, 60.0, 120.0, 240.0, 480.0, 960.0)
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15,
               0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096, 8192, 16384)

# Statuses whose series exist from a worker's start, so `increase()` counts their first requests too.
KNOWN_STATUSES = ("200", "400", "499", "500", "502", "503", "504")

STAMP_LABELS = ("model", "revision", "quantization", "method", "scheme", "bits", "group_size", "calibration_set",
                "calibration_sha256", "calibration_samples", "tool", "source_package", "source_sha256",
                "runtime_version", "hardware", "kernel", "compute_dtype", "weights_bytes")


def share_between_processes(directory: str) -> None:
    """Make every metric created from now on in this process (and its children) shared through `directory`.

    prometheus_client picks its value class when it is first imported; a server that decides on a shared view
    after that import (one worker beside the admin process) must pick again before the first metric exists.
    """
    from prometheus_client import values

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()


def multiprocess_dir() -> str | None:
    """The directory prometheus_client shares between workers, when the server set one up."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass(slots=True)
class RequestRecord:
    """What the gateway learned about one proxied request."""

    variant: str
    category: str
    endpoint: str
    status: str
    streamed: bool
    total_s: float
    ttft_s: float | None
    output_tokens: int | None
    trace_id: str | None = None
    # The candidate's traffic share when routed (see flags.bucketing.RolloutDecision); None: not routed.
    candidate_share: float | None = None
    # The user it answered: its TTFT is also counted in the user's key group (the live p95's design effect).
    routing_key: str | None = None


def _live_latency_series(r: CollectorRegistry, what: str, name: str, group_series: str,
                         buckets: tuple[float, ...]) -> tuple[Histogram, Counter]:
    """A live verdict's latency histogram per stratum, and (not exported) the same values per key group and
    bucket (the p95's design effect)."""
    vc = ("variant", "category")
    return (Histogram(name, f"{what} of streamed requests by the candidate's traffic share when routed (the strata "
                      "of the live verdicts).", (*vc, "stratum"), buckets=buckets, registry=r),
            Counter(group_series, f"Live {what} per routing-key group and bucket.", (*vc, "key_group", "le"),
                    registry=r))


def _live_latency_families(r: CollectorRegistry) -> tuple[tuple[Histogram, Counter], tuple[Histogram, Counter]]:
    """The live verdicts' TTFT and inter-token latency series."""
    return (_live_latency_series(r, "TTFT", "quantgate_live_ttft_seconds", KEY_GROUP_TTFT_SERIES, TTFT_BUCKETS),
            _live_latency_series(r, "Mean inter-token latency", "quantgate_live_itl_seconds", KEY_GROUP_ITL_SERIES,
                                 ITL_BUCKETS))


class GatewayMetrics:
    """All gateway metrics, registered on one registry (one per app, so tests can build many apps)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        vc = ("variant", "category")
        self.requests = Counter("quantgate_requests", "Proxied requests by outcome (HTTP status; 499 = client went "
                                "away).", (*vc, "endpoint", "status"), registry=r)
        (self.live_ttft, self.live_ttft_groups), (self.live_itl, self.live_itl_groups) = _live_latency_families(r)
        self._strata = StratumLabels()
        self.ttft = Histogram("quantgate_time_to_first_token_seconds",
                              "Time from request arrival to the first content token forwarded (streamed requests).",
                              vc, buckets=TTFT_BUCKETS, registry=r)
        self.duration = Histogram("quantgate_request_duration_seconds", "Time from request arrival to the last byte.",
                                  (*vc, "endpoint"), buckets=DURATION_BUCKETS, registry=r)
        self.itl = Histogram("quantgate_inter_token_latency_seconds",
                             "Mean time between output tokens after the first, one observation per streamed request.",
                             vc, buckets=ITL_BUCKETS, registry=r)
        self.output_tokens = Histogram("quantgate_output_tokens", "Output tokens per request, from the backend's "
                                       "usage.", vc, buckets=TOKEN_BUCKETS, registry=r)
        self.failovers = Counter("quantgate_failovers", "Requests retried on the baseline after the candidate failed "
                                 "before the first byte.", ("category", "reason"), registry=r)
        self.upstream_errors = Counter("quantgate_upstream_errors", "Upstream failures by variant and kind.",
                                       ("variant", "reason"), registry=r)
        self.in_flight = Gauge("quantgate_requests_in_flight", "Requests being proxied now.", ("variant",),
                               registry=r, multiprocess_mode="livesum")
        self.rollout_percent = Gauge("quantgate_flag_rollout_percent", "Share of routing keys sent to the candidate.",
                                     registry=r, multiprocess_mode="livemostrecent")
        self.shadow_percent = Gauge("quantgate_flag_shadow_percent", "Share of requests mirrored to the other arm.",
                                    registry=r, multiprocess_mode="livemostrecent")
        self.rollback_active = Gauge("quantgate_rollback_active", "1 when the rollback kill switch is in force "
                                     "(minimum over workers: 1 means every worker applies it).",
                                     registry=r, multiprocess_mode="livemin")
        self.workers = Gauge("quantgate_workers", "Serving workers of this gateway (each started worker adds 1).",
                             registry=r, multiprocess_mode="livesum")
        self.flag_set_version = Gauge("quantgate_flag_set_version", "Flag-set version in force (lowest over workers).",
                                      registry=r, multiprocess_mode="livemin")
        self.flag_store_up = Gauge("quantgate_flag_store_up", "1 when the last poll of the flag store succeeded "
                                   "(minimum over workers).", registry=r, multiprocess_mode="livemin")
        self.flag_staleness = Gauge("quantgate_flag_store_staleness_seconds", "Seconds since the flag store last "
                                    "answered (worst worker; -1 before the first answer).",
                                    registry=r, multiprocess_mode="livemax")
        self.category_overflow = Counter("quantgate_category_overflow", "Requests whose category was labelled "
                                         "'other': not allowed, not reserved, or over max_categories.", registry=r)
        self.backend_info = Gauge("quantgate_backend_info", "Provenance stamp of each backend (value is always 1).",
                                  ("variant", "backend", "served_model_name", *STAMP_LABELS),
                                  registry=r, multiprocess_mode="livemax")
        self.hourly_cost = Gauge("quantgate_backend_hourly_cost_dollars", "Configured hourly cost of each backend.",
                                 ("variant",), registry=r, multiprocess_mode="livemax")
        self.stamp_mismatch = Gauge("quantgate_backend_stamp_mismatch", "1 when a backend reports something other "
                                    "than its configured stamp (re-validate the quantized model).",
                                    ("variant", "field"), registry=r, multiprocess_mode="livemax")
        self.validation_valid = Gauge("quantgate_validation_valid", "1 while a validation of the deployed stamps "
                                      "and policy is in force and this backend still is what it validated; 0 "
                                      "after a stack change (re-validate) or without one.", ("variant",),
                                      registry=r, multiprocess_mode="livemin")
        self.validation_gate_enabled = Gauge("quantgate_validation_gate_enabled", "1 while the pre-ship "
                                             "validation gate refuses unvalidated rollout increases.", registry=r,
                                             multiprocess_mode="livemin")
        self._children: dict[tuple[str, ...], tuple[object, ...]] = {}
        self._request_counters: dict[tuple[str, ...], Counter] = {}
        self._in_flight_children: dict[str, Gauge] = {}

    def in_flight_for(self, variant: str) -> Gauge:
        """The in-flight gauge child of one variant (looked up once, used twice per request)."""
        child = self._in_flight_children.get(variant)
        if child is None:
            child = self._in_flight_children[variant] = self.in_flight.labels(variant)
        return child

    def describe_backend(self, variant: str, backend: str, served_model_name: str, stamp: dict[str, str],
                         hourly_cost: float | None = None) -> None:
        """Export one backend's provenance stamp as an info-style gauge, and its cost when configured."""
        self.backend_info.labels(variant=variant, backend=backend, served_model_name=served_model_name,
                                 **stamp).set(1)
        if hourly_cost is not None:
            self.hourly_cost.labels(variant).set(hourly_cost)

    def observe_flags(self, rollout_percent: float, shadow_percent: float, rollback: bool, version: int,
                      store_up: bool, staleness_s: float) -> None:
        """Publish the flags this worker routes on and the health of its store connection."""
        self.rollout_percent.set(rollout_percent)
        self.shadow_percent.set(shadow_percent)
        self.rollback_active.set(1 if rollback else 0)
        self.flag_set_version.set(version)
        self.flag_store_up.set(1 if store_up else 0)
        self.flag_staleness.set(-1 if staleness_s == float("inf") else staleness_s)

    def _series(self, variant: str, category: str, endpoint: str) -> tuple[object, ...]:
        key = (variant, category, endpoint)
        series = self._children.get(key)
        if series is None:
            series = (self.ttft.labels(variant, category), self.duration.labels(variant, category, endpoint),
                      self.itl.labels(variant, category), self.output_tokens.labels(variant, category))
            self._children[key] = series
        return series

    def _request_counter(self, key: tuple[str, str, str, str]) -> Counter:
        """The request counter child of (variant, category, endpoint, status), looked up once."""
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self._request_counters[key] = self.requests.labels(*key)
        return counter

    def observe_request(self, record: RequestRecord) -> None:
        """Record one finished request (called once, off the per-chunk path)."""
        ttft, duration, itl, tokens = self._series(record.variant, record.category, record.endpoint)
        self._request_counter((record.variant, record.category, record.endpoint, record.status)).inc()
        # Exemplars link a latency bucket to a trace; they are exposed when OpenMetrics is negotiated.
        exemplar = {"trace_id": record.trace_id} if record.trace_id else None
        duration.observe(record.total_s, exemplar)  # type: ignore[attr-defined]
        if record.output_tokens is not None:
            tokens.observe(record.output_tokens)  # type: ignore[attr-defined]
        if record.streamed and record.ttft_s is not None:
            ttft.observe(record.ttft_s, exemplar)  # type: ignore[attr-defined]
            gap = None
            if record.output_tokens and record.output_tokens > 1:
                gap = (record.total_s - record.ttft_s) / (record.output_tokens - 1)
                itl.observe(gap)  # type: ignore[attr-defined]
            if record.candidate_share is not None:
                self._observe_live(record, gap)

    def _observe_live(self, record: RequestRecord, gap: float | None) -> None:
        """A routed streamed answer's TTFT (and mean inter-token gap) in its stratum and the user's key group."""
        stratum = self._strata.label(record.candidate_share)  # type: ignore[arg-type]
        observed = [(self.live_ttft, self.live_ttft_groups, TTFT_BUCKETS, record.ttft_s)]
        if gap is not None:
            observed.append((self.live_itl, self.live_itl_groups, ITL_BUCKETS, gap))
        for histogram, groups, buckets, value in observed:
            histogram.labels(record.variant, record.category, stratum).observe(value)
            if record.routing_key is not None:
                edge = next((f"{b:g}" for b in buckets if value <= b), "+Inf")  # `le`, not cumulative
                groups.labels(record.variant, record.category, str(live_key_group(record.routing_key)),
                              edge).inc()

    def create_known_series(self, variants: tuple[str, ...], categories: tuple[str, ...]) -> None:
        """Create every known (variant, category) label set at zero when a worker starts.

        Prometheus's `increase()` and `rate()` cannot see what a series counted before its first scrape: a series
        born with its first request hides that request (and a burst, many) from every alert rule.
        """
        for variant in variants:
            for category in categories:
                for endpoint in COMPLETION_ENDPOINTS:
                    self._series(variant, category, endpoint)
                    for status in KNOWN_STATUSES:
                        self._request_counter((variant, category, endpoint, status))

    def upstream_failed(self, variant: str, reason: str) -> None:
        """One upstream failure of this variant (connect, timeout, status, mid_stream, ...)."""
        self.upstream_errors.labels(variant, reason).inc()

    def failed_over(self, category: str, reason: str) -> None:
        """One request retried on the baseline after the candidate failed before the first byte."""
        self.failovers.labels(category, reason).inc()

    def observe_validation(self, gate_enabled: bool, valid: dict[str, bool]) -> None:
        """The pre-ship gate's state as this worker sees it."""
        self.validation_gate_enabled.set(1 if gate_enabled else 0)
        for variant, ok in valid.items():
            self.validation_valid.labels(variant).set(1 if ok else 0)

    def observe_stamp_check(self, variant: str, checked: tuple[str, ...], mismatched: set[str]) -> None:
        """Which of a backend's checked fields differ from its configured stamp."""
        for name in checked:
            self.stamp_mismatch.labels(variant, name).set(1 if name in mismatched else 0)

    def collecting_registry(self) -> CollectorRegistry:
        """The registry to read from: this worker's, or all workers' in multiprocess mode."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return registry
        return self.registry

    def render(self, accept_header: str | None) -> tuple[bytes, str]:
        """Exposition body and content type; aggregates all workers in multiprocess mode."""
        encoder, content_type = choose_encoder(accept_header or "")
        return encoder(_Exported(self.collecting_registry())), content_type  # type: ignore[arg-type]


class _Exported:
    """A registry's families less the analysis-only ones (the live series per key group)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """Every family but the per-key-group live series."""
        return (family for family in self._source.collect() if family.name not in KEY_GROUP_FAMILIES)
