"""Pydantic models of the admin API's responses and errors: what the OpenAPI document promises a client.

Nested analysis output (per-metric tolerances, live windows, validation results) is described as open objects:
its fields follow the policy, and a client reads them by name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wire.variant import Variant


class ErrorDetail(BaseModel):
    """OpenAI's error object, as every quantgate endpoint returns it."""

    model_config = ConfigDict(extra="allow")

    message: str
    type: str
    param: str | None = None
    # The HTTP status (as vLLM sends it) or a name such as `rollout_gated`.
    code: str | int | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of an operation that can answer with these error statuses (and 401 and 429 always)."""
    reasons = {400: "Bad parameter or body", 401: "Missing or wrong admin bearer token", 404: "No such record",
               409: "Stale expected_version, or refused by the pre-ship gate", 413: "Body over 64 KiB",
               415: "Body is not application/json", 422: "Body does not fit the model",
               429: "Too many failed tokens from this address lately (Retry-After says when to try again)",
               503: "The store is unavailable: nothing was changed"}
    return {status: {"model": ErrorBody, "description": reasons[status]} for status in sorted({401, 429, *statuses})}


class Flags(BaseModel):
    """One version of every rollout flag."""

    version: int
    rollout_percent: float
    shadow_percent: float
    rollback: bool
    salt: str
    category_overrides: dict[str, Variant]
    updated_at: str | None


class FlagsRead(Flags):
    """The flags and where they came from: the store, this worker's last known copy, or the safe default."""

    source: str = Field(description="store | last_known | safe_default")


class AuditEntryOut(BaseModel):
    """One append-only audit row."""

    id: int
    at: str
    flag: str
    old_value: Any
    new_value: Any
    actor: str
    reason: str
    version: int


class AuditTrail(BaseModel):
    """Newest first."""

    entries: list[AuditEntryOut]


class AuthFailureOut(BaseModel):
    """One refused login or bearer token."""

    id: int
    at: str
    client: str
    surface: str
    detail: str


class AuthFailures(BaseModel):
    """Newest first."""

    failures: list[AuthFailureOut]


class ComparisonSummary(BaseModel):
    """The list view of one stored shadow comparison."""

    model_config = ConfigDict(extra="allow")

    id: int
    request_id: str
    created_at: str
    category: str
    primary_variant: str
    exact_match: bool
    similarity: float | None


class ComparisonDetail(ComparisonSummary):
    """One comparison with both judgements, stamps and (when stored) the texts."""

    baseline_stamp: dict[str, Any]
    candidate_stamp: dict[str, Any]
    baseline_judgement: dict[str, Any]
    candidate_judgement: dict[str, Any]
    prompt_text: str | None
    baseline_text: str | None
    candidate_text: str | None


class ComparisonPage(BaseModel):
    """A page of comparisons, newest first."""

    total: int
    limit: int
    offset: int
    comparisons: list[ComparisonSummary]


class VerdictOut(BaseModel):
    """One (category, metric) judgement; undefined figures are null."""

    model_config = ConfigDict(extra="allow")

    category: str
    metric: str
    verdict: str = Field(description="regression | inconclusive | ok | improvement | insufficient data")
    effect: float | None
    interval: list[float | None]
    n: int
    tolerance: dict[str, Any]
    p_value: float | None
    p_adjusted: float | None
    method: str
    unit: str = Field(description="What one observation is (a pair, a user's pairs) and what the interval assumes")
    design_effect: float = Field(description="How many times the clustering of one user's observations inflates "
                                             "the variance (Rao-Scott; 1: independent); the counts were divided by it")
    independent_n: float | None = Field(description="How many independent observations n counts as (n / design "
                                                    "effect)")


class VerdictReportOut(BaseModel):
    """Every verdict of one analysis, stamped with the policy and both models."""

    model_config = ConfigDict(extra="allow")

    policy: str
    significance: float
    generated_at: str
    baseline_stamp: dict[str, str]
    candidate_stamp: dict[str, str]
    looks: str
    window_pairs: int
    sampled_pairs: int
    verdicts: list[VerdictOut]
    live_verdicts: list[VerdictOut]
    live_window: dict[str, Any]
    family_size: int = Field(description="How many tests share α (Bonferroni), paired and live together")
    family_basis: str = Field(description="What that number counts, and whether it was fixed in advance")
    clustered: dict[str, list[int]] = Field(default_factory=dict, description="Categories whose sampled pairs came "
                                            "from fewer routing keys than pairs: [pairs, keys]")
    view: dict[str, Any] = Field(description="The growing analysis from its start (kind `analysis`, anytime-valid), "
                                             "or a sliding window (kind `window`, fixed-sample, descriptive)")


class ValidationSummaryOut(BaseModel):
    """A pre-ship validation as listed."""

    model_config = ConfigDict(extra="allow")

    id: int
    created_at: str
    actor: str
    baseline_stamp_sha256: str
    candidate_stamp_sha256: str
    policy: str
    suite: str
    outcome: str = Field(description="pass | fail | inconclusive")
    failing: list[str]
    inconclusive: list[str]
    pins_to_ship: dict[str, str]


class ValidationList(BaseModel):
    """Newest first, with the record in force for this deployment and this worker's view of it."""

    validations: list[ValidationSummaryOut]
    in_force: ValidationSummaryOut | None
    state: dict[str, Any]


class ValidationDetail(BaseModel):
    """One record: summary, full per-category results and its disclosure card in Markdown."""

    validation: ValidationSummaryOut
    result: dict[str, Any]
    card_markdown: str
