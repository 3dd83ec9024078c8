"""Prometheus metrics of answer quality (every answer) and of shadow pairs (per category)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from monitors.quality.detectors.answer import AnswerJudgement
from monitors.strata_labels import FEEDBACK_OUTCOME, KEY_GROUP_SERIES, StratumLabels

SIMILARITY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)
LENGTH_RATIO_BUCKETS = (0.25, 0.5, 0.67, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 4.0)
CHAR_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)
TOKEN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


@dataclass(frozen=True, slots=True)
class _AnswerSeries:
    """The labelled children one (variant, category, arm) touches for every judged answer."""

    judged: Any
    refusals: Any
    format_checked: Any
    format_breaks: Any
    repetitions: Any
    language_mismatches: Any
    truncations: Any
    answer_tokens: Any
    answer_chars: Any


class QualityMetrics:
    """Detector counters per variant, category and arm (primary or shadow), and shadow-pair figures."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        vca = ("variant", "category", "arm")
        self.judged = Counter("quantgate_answers_judged", "Answers run through the quality detectors.", vca, registry=r)
        self.refusals = Counter("quantgate_refusals", "Answers the refusal detector labelled as refusals.", vca,
                                registry=r)
        self.format_checked = Counter("quantgate_format_checked", "Answers whose format was checked (JSON asked, "
                                      "or a structured category).", vca, registry=r)
        self.format_breaks = Counter("quantgate_format_breaks", "Answers whose expected format was broken.", vca,
                                     registry=r)
        self.language_mismatches = Counter("quantgate_language_mismatches", "Answers in another language than "
                                           "their prompt (both identified with confidence).", vca, registry=r)
        self.repetitions = Counter("quantgate_repetition_loops", "Answers ending in a repetition loop.", vca,
                                   registry=r)
        self.truncations = Counter("quantgate_truncated_answers", "Answers cut at the token limit (finish_reason "
                                   "length).", vca, registry=r)
        self.answer_tokens = Histogram("quantgate_answer_length_tokens", "Output tokens per judged answer.", vca,
                                       buckets=TOKEN_BUCKETS, registry=r)
        self.answer_chars = Histogram("quantgate_answer_length_chars", "Characters per judged answer.", vca,
                                      buckets=CHAR_BUCKETS, registry=r)
        self.live_answers = Counter("quantgate_live_answers", "Primary answers judged, by the candidate's traffic "
                                    "share when routed (the strata of the live verdicts) and outcome (judged, "
                                    "refused, format_checked, format_broken, repetitive, language_checked, "
                                    "language_mismatch, empty).",
                                    ("variant", "category", "stratum", "outcome"), registry=r)
        # Not exported (an analysis input, `KEY_GROUP_SERIES`): the same outcomes per group of routing keys.
        self.live_key_groups = Counter(KEY_GROUP_SERIES, "Primary answers judged per routing-key group and outcome.",
                                       ("variant", "category", "key_group", "outcome"), registry=r)
        self.feedback = Counter("quantgate_feedback", "Feedback signals recorded (POST /v1/feedback), by the "
                                "answer's arm, category, routing stratum and signal.",
                                ("variant", "category", "stratum", "signal"), registry=r)
        self._strata = StratumLabels()
        self.comparisons = Counter("quantgate_shadow_comparisons", "Shadow pairs compared.", ("category",), registry=r)
        self.similarity = Histogram("quantgate_shadow_similarity", "Normalized text similarity of a pair (1 = same), "
                                    "overall, first 256 words (head) and the rest (tail).", ("category", "segment"),
                                    buckets=SIMILARITY_BUCKETS, registry=r)
        self.length_ratio = Histogram("quantgate_shadow_length_ratio", "Output length candidate / baseline.",
                                      ("category",), buckets=LENGTH_RATIO_BUCKETS, registry=r)
        self.flips = Counter("quantgate_shadow_flips", "Pairs whose detectors disagree, by kind and which arm got "
                             "worse.", ("category", "kind", "direction"), registry=r)
        self.exact_matches = Counter("quantgate_shadow_exact_matches", "Pairs with identical text.", ("category",),
                                     registry=r)
        self.drops = Counter("quantgate_shadow_drops", "Shadow work dropped, by reason.", ("reason",), registry=r)
        self.shadow_requests = Counter("quantgate_shadow_requests", "Shadow requests sent, by target variant and "
                                       "outcome.", ("variant", "outcome"), registry=r)
        self.circuit_open = Gauge("quantgate_shadow_circuit_open", "1 while shadows to this target are shed by its "
                                  "circuit breaker (hung or failing), 0 when closed.", ("variant",), registry=r,
                                  multiprocess_mode="livemax")
        self.in_flight = Gauge("quantgate_shadow_in_flight", "Shadow requests in flight.", registry=r,
                               multiprocess_mode="livesum")
        self.queued = Gauge("quantgate_shadow_queued", "Shadow requests waiting for a slot.", registry=r,
                            multiprocess_mode="livesum")
        self._answer_children: dict[tuple[str, str, str], _AnswerSeries] = {}

    def _observe_live(self, variant: str, category: str, stratum: str, judgement: AnswerJudgement,
                      key_group: int | None) -> None:
        outcomes = {"judged": True, "refused": judgement.refused, "format_checked": judgement.format_checked,
                    "format_broken": judgement.format_checked and judgement.format_broken,
                    "repetitive": judgement.repetitive, "language_checked": judgement.language_checked,
                    "language_mismatch": judgement.language_mismatch, "empty": judgement.empty}
        for outcome, happened in outcomes.items():
            if happened:
                self.live_answers.labels(variant, category, stratum, outcome).inc()
                if key_group is not None:
                    self.live_key_groups.labels(variant, category, str(key_group), outcome).inc()

    def _answer_series(self, labels: tuple[str, str, str]) -> _AnswerSeries:
        series = self._answer_children.get(labels)
        if series is None:
            series = _AnswerSeries(*(metric.labels(*labels) for metric in (
                self.judged, self.refusals, self.format_checked, self.format_breaks, self.repetitions,
                self.language_mismatches, self.truncations, self.answer_tokens, self.answer_chars)))
            self._answer_children[labels] = series
        return series

    def create_known_series(self, variants: tuple[str, ...], categories: tuple[str, ...],
                            arms: tuple[str, ...] = ("primary", "shadow")) -> None:
        """Create every known (variant, category, arm) answer series at zero when a worker starts.

        The alert rules' `increase()` cannot count what a series held before Prometheus first scraped it; series
        that exist from the start lose nothing.
        """
        for variant in variants:
            for category in categories:
                for arm in arms:
                    self._answer_series((variant, category, arm))
                self.comparisons.labels(category)
                self.exact_matches.labels(category)

    def observe_feedback(self, variant: str, category: str, candidate_share: float, key_group: int,
                         signal: str) -> None:
        """Count one recorded signal in its answer's stratum and key group (the live verdicts read both)."""
        self.feedback.labels(variant, category, self._strata.label(candidate_share), signal).inc()
        self.live_key_groups.labels(variant, category, str(key_group), f"{FEEDBACK_OUTCOME}{signal}").inc()

    def observe_answer(self, variant: str, category: str, arm: str, judgement: AnswerJudgement,
                       candidate_share: float | None = None, key_group: int | None = None) -> None:
        """Count one judged answer (a primary answer with its routing share also in its live stratum, and with its
        routing key's group in that group's count)."""
        if candidate_share is not None:
            self._observe_live(variant, category, self._strata.label(candidate_share), judgement, key_group)
        series = self._answer_series((variant, category, arm))
        series.judged.inc()
        if judgement.refused:
            series.refusals.inc()
        if judgement.format_checked:
            series.format_checked.inc()
            if judgement.format_broken:
                series.format_breaks.inc()
        if judgement.repetitive:
            series.repetitions.inc()
        if judgement.language_mismatch:
            series.language_mismatches.inc()
        if judgement.truncated:
            series.truncations.inc()
        if judgement.output_tokens is not None:
            series.answer_tokens.observe(judgement.output_tokens)
        series.answer_chars.observe(judgement.output_chars)

    def shadow_dropped(self, reason: str) -> None:
        """Shadow work given up (queue full, load, circuit open, timeout, failover, ...)."""
        self.drops.labels(reason).inc()

    def shadow_sent(self, variant: str, outcome: str) -> None:
        """One shadow request to `variant` and how it ended (ok, timeout, error, abandoned)."""
        self.shadow_requests.labels(variant, outcome).inc()

    def circuit(self, variant: str, open_: bool) -> None:
        """The shadow circuit breaker of one target opened (shedding) or closed."""
        self.circuit_open.labels(variant).set(1 if open_ else 0)

    def observe_pair(self, category: str, exact_match: bool, similarity: float, similarity_head: float,
                     similarity_tail: float | None, length_ratio: float | None,
                     flips: dict[str, str | None]) -> None:
        """One compared shadow pair: similarity per segment, length ratio, and each detector flip's direction."""
        self.comparisons.labels(category).inc()
        if exact_match:
            self.exact_matches.labels(category).inc()
        self.similarity.labels(category, "all").observe(similarity)
        self.similarity.labels(category, "head").observe(similarity_head)
        if similarity_tail is not None:
            self.similarity.labels(category, "tail").observe(similarity_tail)
        if length_ratio is not None:
            self.length_ratio.labels(category).observe(length_ratio)
        for kind, direction in flips.items():
            if direction:
                self.flips.labels(category, kind, direction).inc()
