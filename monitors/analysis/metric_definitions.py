"""One table of the metrics quantgate judges: what each one counts and where it can be measured.

Like Flagger's `MetricTemplate`: the paired verdicts, the live verdicts, the rollback guard, the pre-ship
validation and its card all iterate this table instead of keeping their own lists, so a metric added here is
judged everywhere it can be measured (and a test checks the policy file offers a tolerance for each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from monitors.analysis.policy import LatencyTolerance, RateTolerance, RatioTolerance, SimilarityTolerance

MetricKind = Literal["rate", "length_ratio", "similarity", "latency"]


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One judged metric.

    `flag`: the judgement field a rate counts (also the live outcome label of `quantgate_live_answers_total`);
    `checked_by`: the field saying an answer was checked for it (rates over checked answers only; live, the
    outcome counted as the total, "judged" when every answer is); `stored`: counted on every stored comparison
    row, so a window read from the database (and the guard) can judge it; `live`: measured on unpaired live
    traffic; `times`: which sampled times a latency metric compares; `paired`: judged on shadow pairs too.
    """

    name: str
    kind: MetricKind
    tolerance: type[BaseModel]
    label: str
    flag: str | None = None
    checked_by: str | None = None
    stored: bool = False
    live: bool = False
    times: str | None = None
    # Judged on shadow pairs too (False: live traffic only).
    paired: bool = True

    @property
    def is_rate(self) -> bool:
        """A paired difference of two proportions (shown in percent and percentage points)."""
        return self.kind == "rate"

    @property
    def live_outcomes(self) -> tuple[str, str]:
        """The live counter's (events, out of) outcome labels for a rate."""
        return str(self.flag), self.checked_by or "judged"

    @property
    def guard_tests(self) -> tuple[str, ...]:
        """The rollback guard's sequential tests of this metric (a ratio kept inside [min, max] is two)."""
        if not self.stored or self.kind == "latency":
            return ()
        if self.kind == "length_ratio":
            return (f"{self.name}_below", f"{self.name}_above")
        return (self.name,)


METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition("refusal_rate", "rate", RateTolerance, "refusal", flag="refused", stored=True, live=True),
    MetricDefinition("format_break_rate", "rate", RateTolerance, "format break", flag="format_broken",
                     checked_by="format_checked", stored=True, live=True),
    MetricDefinition("repetition_rate", "rate", RateTolerance, "repetition loop", flag="repetitive", stored=True,
                     live=True),
    # Answers in another language than asked (live: the prompt's language; validation: the item's).
    MetricDefinition("language_mismatch_rate", "rate", RateTolerance, "language mismatch",
                     flag="language_mismatch", checked_by="language_checked", live=True),
    # Answers with no text at all (whitespace only): a candidate that fails silently on hard prompts.
    MetricDefinition("empty_answer_rate", "rate", RateTolerance, "empty answer", flag="empty", live=True),
    # Shadows that gave no answer (error, open circuit, timeout) counted against the arm that failed, so that a
    # candidate failing on hard prompts does not quietly drop them from every other count. The primary had started
    # answering when the shadow was sent, so only the shadow arm can fail in a stored pair: with one arm always the
    # shadow, this is that arm's failure rate on prompts the other one answered.
    MetricDefinition("shadow_failure_rate", "rate", RateTolerance, "shadow failure", flag="failed", stored=True),
    # Answers failing their item's reference check: validation only, live traffic has no references.
    MetricDefinition("task_failure_rate", "rate", RateTolerance, "task failure", flag="task_failed",
                     checked_by="task_checked"),
    MetricDefinition("length_ratio", "length_ratio", RatioTolerance, "length ratio", stored=True),
    MetricDefinition("similarity", "similarity", SimilarityTolerance, "similarity", stored=True),
    MetricDefinition("ttft_p95", "latency", LatencyTolerance, "TTFT p95", live=True, times="ttft"),
    # Mean time between tokens of a streamed answer, p95 over answers: live traffic only (stored pairs keep TTFT
    # and total time, not the stream's gaps; the validation times it in its performance stage).
    MetricDefinition("itl_p95", "latency", LatencyTolerance, "inter-token latency p95", live=True, times="itl",
                     paired=False),
    # Arrival to last byte; long answers make it a length metric too, so policies opt in.
    MetricDefinition("total_p95", "latency", LatencyTolerance, "whole-answer p95", times="total"),
)
BY_NAME = {metric.name: metric for metric in METRICS}
RATES = tuple(metric for metric in METRICS if metric.is_rate)
# Guard test name -> the metric it tests.
GUARD_TESTS = {test: metric for metric in METRICS for test in metric.guard_tests}


def definition(name: str) -> MetricDefinition:
    """The definition of a metric or of one of its guard tests (`length_ratio_below` -> `length_ratio`)."""
    return BY_NAME[name] if name in BY_NAME else GUARD_TESTS[name]
