"""The regression policy: tolerances committed in advance, per metric and optionally per category."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from monitors.analysis.performance_policy import EarlyWarningPolicy, PerformancePolicy


class RateTolerance(BaseModel):
    """A rate may rise by at most this many percentage points, candidate minus baseline."""

    model_config = ConfigDict(extra="forbid")
    max_increase_pp: float = Field(ge=0, le=100)


class RatioTolerance(BaseModel):
    """The median candidate/baseline length ratio must stay inside [min, max]."""

    model_config = ConfigDict(extra="forbid")
    min: float = Field(gt=0)
    max: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RatioTolerance:
        if self.min >= self.max:
            raise ValueError("length_ratio.min must be below length_ratio.max")
        return self


class SimilarityTolerance(BaseModel):
    """The median pair similarity must not fall below this."""

    model_config = ConfigDict(extra="forbid")
    min_median: float = Field(ge=0, le=1)


class LatencyTolerance(BaseModel):
    """A latency p95 (TTFT, or the whole answer) may rise by at most this many percent."""

    model_config = ConfigDict(extra="forbid")
    max_increase_pct: float = Field(ge=0)


class FeedbackSignal(BaseModel):
    """A signal applications send about an answer (`POST /v1/feedback`): an event (a thumbs-down, an escalation, a
    downstream error) judged per answer served like a rate, or a score with its range whose low scores (at most
    `low_at_most`, the survey practice of a "bottom-box" share) are judged so."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["event", "score"] = "event"
    min: float | None = None
    max: float | None = None
    # Scores: a score at or below this counts as a low score, the judged event (None: scores are stored only).
    low_at_most: float | None = None
    # How many percentage points more answers of the candidate may get this signal (None: not judged).
    max_increase_pp: float | None = Field(default=None, ge=0, le=100)
    # Per-category tolerances (pp), over `max_increase_pp`.
    categories: dict[str, float] = Field(default_factory=dict, max_length=64)
    # Whether the rollback guard acts on this signal too (off: the verdicts and the alert show it, nothing flips).
    guard: bool = False

    @model_validator(mode="after")
    def _kind(self) -> FeedbackSignal:
        if self.kind == "score" and (self.min is None or self.max is None or self.min >= self.max):
            raise ValueError("a score signal needs min < max")
        if self.kind == "event" and (self.min is not None or self.max is not None or self.low_at_most is not None):
            raise ValueError("an event signal has no range (it happened or not)")
        if self.kind == "score" and self.low_at_most is not None and not self.min <= self.low_at_most < self.max:  # type: ignore[operator]
            raise ValueError("`low_at_most` must lie in [min, max): some scores must not be low")
        if any(not 0 <= pp <= 100 for pp in self.categories.values()):
            raise ValueError("a category's tolerance is in percentage points, 0 to 100")
        if self.guard and self.max_increase_pp is None and not self.categories:
            raise ValueError("`guard: true` needs a tolerance (`max_increase_pp` or `categories`) to act on")
        return self

    @property
    def judged(self) -> bool:
        """Whether the signal is counted as an event per answer (events, and scores with `low_at_most`)."""
        return self.kind == "event" or self.low_at_most is not None

    def counts(self, value: float | None) -> bool:
        """Whether one recorded signal is a judged event (an event, or a low score)."""
        if self.kind == "event":
            return True
        return self.low_at_most is not None and value is not None and value <= self.low_at_most

    def tolerance(self, category: str) -> RateTolerance | None:
        """The rate tolerance in force for a category (None: not judged there)."""
        pp = self.categories.get(category, self.max_increase_pp)
        return None if not self.judged or pp is None else RateTolerance(max_increase_pp=pp)


# Metrics added after policies were first stamped (see `RegressionPolicy._stamped`).
LATER_METRICS = ("itl_p95",)


class MetricTolerances(BaseModel):
    """Tolerances for every metric of `monitors.analysis.metric_definitions`; a metric left out is not judged."""

    model_config = ConfigDict(extra="forbid")
    refusal_rate: RateTolerance | None = None
    format_break_rate: RateTolerance | None = None
    repetition_rate: RateTolerance | None = None
    # Answers in another language than asked (live: the prompt's language; validation: the item's).
    language_mismatch_rate: RateTolerance | None = None
    # Answers with no text (validation and live traffic; in shadow pairs an empty answer is a length ratio of 0).
    empty_answer_rate: RateTolerance | None = None
    # Shadows that gave no answer (error, open circuit, timeout), counted against the arm that failed.
    shadow_failure_rate: RateTolerance | None = None
    # Answers that fail their item's reference check (validation only: live traffic has no references).
    task_failure_rate: RateTolerance | None = None
    length_ratio: RatioTolerance | None = None
    similarity: SimilarityTolerance | None = None
    ttft_p95: LatencyTolerance | None = None
    # Inter-token latency p95 (live traffic: the mean gap of each streamed answer); opt-in.
    itl_p95: LatencyTolerance | None = None
    # Whole-answer latency p95 (arrival to last byte); opt-in: long answers make it a length metric too.
    total_p95: LatencyTolerance | None = None


class CategoryPolicy(MetricTolerances):
    """Per-category overrides of the defaults."""

    min_paired_samples: int | None = Field(default=None, ge=1)


class RegressionPolicy(BaseModel):
    """The whole policy file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    significance: float = Field(default=0.05, gt=0, lt=0.5)
    min_paired_samples: int = Field(default=100, ge=1)
    calibration_set: str = ""
    defaults: MetricTolerances
    categories: dict[str, CategoryPolicy] = Field(default_factory=dict)
    # Signals applications may send about answers, by name (`thumbs_down`, `escalated`, `downstream_error`, ...).
    feedback: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")], FeedbackSignal] = Field(
        default_factory=dict, max_length=16)
    # The payoff half: how `quantgate validate` measures speed, memory and cost, and the targets it judges.
    performance: PerformancePolicy = Field(default_factory=PerformancePolicy)
    # The token-level early warning: shown always, gating only where this says so.
    early_warning: EarlyWarningPolicy = Field(default_factory=EarlyWarningPolicy)

    def tolerance(self, category: str, metric: str) -> BaseModel | None:
        """The tolerance in force for (category, metric): the category's own, else the default."""
        own = self.categories.get(category)
        if own is not None and getattr(own, metric) is not None:
            return getattr(own, metric)
        return getattr(self.defaults, metric)

    def min_samples(self, category: str) -> int:
        """Minimum paired sample for a verdict in this category."""
        own = self.categories.get(category)
        return own.min_paired_samples if own is not None and own.min_paired_samples else self.min_paired_samples

    def _stamped(self) -> dict[str, object]:
        """The document the stamp hashes: sections and metrics added later count only when set, so a policy
        committed before they existed keeps its stamp (and the validations bound to it)."""
        document = self.model_dump(mode="json")
        if self.performance == PerformancePolicy():
            del document["performance"]
        if self.early_warning == EarlyWarningPolicy():
            del document["early_warning"]
        for tolerances in (document["defaults"], *document["categories"].values()):
            for name in LATER_METRICS:
                if tolerances.get(name) is None:
                    tolerances.pop(name, None)
        return document

    def stamp(self) -> str:
        """Name plus a content hash: which policy a verdict was judged under."""
        digest = hashlib.sha256(json.dumps(self._stamped(), sort_keys=True).encode()).hexdigest()
        return f"{self.name}@{digest[:12]}"


DEFAULT_POLICY = RegressionPolicy(
    name="quantgate-default",
    defaults=MetricTolerances(
        refusal_rate=RateTolerance(max_increase_pp=1.0),
        format_break_rate=RateTolerance(max_increase_pp=0.5),
        repetition_rate=RateTolerance(max_increase_pp=1.0),
        empty_answer_rate=RateTolerance(max_increase_pp=1.0),
        shadow_failure_rate=RateTolerance(max_increase_pp=1.0),
        length_ratio=RatioTolerance(min=0.8, max=1.25),
        similarity=SimilarityTolerance(min_median=0.6),
        ttft_p95=LatencyTolerance(max_increase_pct=20),
    ),
)


def load_policy(path: Path | str | None) -> RegressionPolicy:
    """Read and validate a YAML policy; the built-in default when no path is given."""
    if path is None:
        return DEFAULT_POLICY
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"policy file {path} must hold a mapping")
    return RegressionPolicy.model_validate(data)
