"""From two arms' answers to a validation record: per-category verdicts against the committed tolerances.

The statistics are the live verdicts' (`monitors.analysis.verdicts.build_report`), read once: a validation is one
planned look, so the intervals are the fixed-sample ones (Tango's score interval for paired rates,
Clopper-Pearson for the sign tests), Bonferroni over every (category, metric) tested. Latency is left to live
traffic: here it measures the validation's own concurrency on whatever machine ran it, not the candidate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evals.scoring import ArmAnswer, score_pair
from evals.suite import EvalSuite
from flags.validations import FAIL, INCONCLUSIVE, PASS, ValidationRow, stamp_sha256
from monitors.analysis.metric_definitions import METRICS, RATES
from monitors.analysis.performance_policy import EarlyWarningPolicy
from monitors.analysis.policy import RegressionPolicy
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import IMPROVEMENT, OK, REGRESSION, SINGLE, VerdictReport, build_report
from monitors.analysis.window_data import window_from_samples
from monitors.quality.detectors.answer import AnswerJudge

LATENCY_METRICS = tuple(metric.name for metric in METRICS if metric.kind == "latency")
# Per arm and category, what the card shows as each arm's own score (the share of answers with the flag); the
# item's own reference check (task failure) first.
ARM_SCORES = {str(m.flag): m.label for m in sorted(RATES, key=lambda m: m.name != "task_failure_rate")}
# Each flag's "was it checked" field, as the verdicts count it.
CHECKED = {str(metric.flag): metric.checked_by for metric in RATES if metric.checked_by}


def without_latency(policy: RegressionPolicy) -> RegressionPolicy:
    """The policy as a validation applies it: every tolerance but the latency ones."""
    off = dict.fromkeys(LATENCY_METRICS)
    return policy.model_copy(update={
        "defaults": policy.defaults.model_copy(update=off),
        "categories": {name: own.model_copy(update=off) for name, own in policy.categories.items()}})


def arm_scores(samples: list[PairSample]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per category and flag: each arm's share of answers with it, over the answers checked for it."""
    grouped: dict[str, list[PairSample]] = {}
    for sample in samples:
        grouped.setdefault(sample.category, []).append(sample)
    scores: dict[str, dict[str, dict[str, float | int]]] = {}
    for category, group in sorted(grouped.items()):
        scores[category] = {}
        for flag in ARM_SCORES:
            checked = CHECKED.get(flag)
            kept = [s for s in group if checked is None or (s.baseline.get(checked) and s.candidate.get(checked))]
            if kept:
                scores[category][flag] = {
                    "n": len(kept), "baseline": sum(bool(s.baseline.get(flag)) for s in kept) / len(kept),
                    "candidate": sum(bool(s.candidate.get(flag)) for s in kept) / len(kept)}
    return scores


def category_outcomes(report: VerdictReport) -> dict[str, str]:
    """fail: a regression; pass: every tested metric shown within tolerance (or better); else inconclusive."""
    verdicts: dict[str, list[str]] = {}
    for verdict in report.verdicts:
        verdicts.setdefault(verdict.category, []).append(verdict.verdict)
    outcomes = {}
    for category, labels in verdicts.items():
        if REGRESSION in labels:
            outcomes[category] = FAIL
        elif labels and all(label in (OK, IMPROVEMENT) for label in labels):
            outcomes[category] = PASS
        else:
            outcomes[category] = INCONCLUSIVE
    return outcomes


@dataclass
class ValidationResult:
    """Everything one validation concluded, before it is stored."""

    outcome: str
    categories: dict[str, str]
    gated: list[str]
    report: VerdictReport
    scores: dict[str, dict[str, dict[str, float | int]]]
    failing: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    # The payoff half (`evals.performance`) and the token-level early warning, when measured.
    performance: dict[str, Any] | None = None
    early_warning: dict[str, Any] | None = None
    # The quality half's own outcome, before gating payoff targets could change the validation's.
    quality_outcome: str = ""

    def pins(self) -> dict[str, str]:
        """The category pins that would ship the candidate only where it passed."""
        return {category: "baseline" for category in sorted(set(self.failing) | set(self.inconclusive))}

    def with_early_warning(self, warning: dict[str, Any], policy: EarlyWarningPolicy) -> None:
        """Attach the early warning; where the policy makes it gate, a category whose mean KL is shown above the
        ceiling fails the validation."""
        exceeded = policy.exceeded(warning["categories"])
        self.early_warning = {**warning, "max_kl_mean": policy.max_kl_mean, "gates": policy.gates,
                              "exceeded": exceeded}
        if policy.gates and exceeded:
            self.quality_outcome = self.quality_outcome or self.outcome
            self.outcome = FAIL

    def with_performance(self, performance: dict[str, Any]) -> None:
        """Attach the payoff half; where the policy makes its targets gate, a missed target fails the validation
        and an undecided one leaves a pass inconclusive (by default they only warn)."""
        self.performance = performance
        self.quality_outcome = self.quality_outcome or self.outcome
        if not performance["gates"]:
            return
        if performance["outcome"] == FAIL:
            self.outcome = FAIL
        elif performance["outcome"] == INCONCLUSIVE and self.outcome == PASS:
            self.outcome = INCONCLUSIVE


def evaluate(suite: EvalSuite, baseline: dict[str, ArmAnswer], candidate: dict[str, ArmAnswer],
             policy: RegressionPolicy, stamps: tuple[dict[str, str], dict[str, str]],
             judge: AnswerJudge) -> ValidationResult:
    """Score every item on both arms and judge each category against the policy (one planned look)."""
    samples = [score_pair(judge, item, baseline[item.id], candidate[item.id]) for item in suite.items]
    applied = without_latency(policy)
    report = build_report(window_from_samples(samples, applied), applied, stamps[0], stamps[1], looks=SINGLE)
    # A rate no answer of the category was checked for (format breaks in prose) does not apply to it.
    report.verdicts = [v for v in report.verdicts if v.n > 0]
    categories = category_outcomes(report)
    gated = sorted({item.category for item in suite.items if item.gated})
    failing = [c for c in gated if categories.get(c) == FAIL]
    inconclusive = [c for c in gated if categories.get(c, INCONCLUSIVE) == INCONCLUSIVE]
    outcome = FAIL if failing else INCONCLUSIVE if inconclusive else PASS
    return ValidationResult(outcome, categories, gated, report, arm_scores(samples), failing, inconclusive)


@dataclass(frozen=True)
class RunFacts:
    """Who ran a validation, against what, and how long it took."""

    actor: str
    policy: RegressionPolicy
    suite: EvalSuite
    stamps: tuple[dict[str, str], dict[str, str]]
    identity: dict[str, dict[str, Any] | None]
    backends: dict[str, dict[str, str]]
    wall_s: float
    concurrency: int
    sampling: dict[str, Any]


def record_of(result: ValidationResult, facts: RunFacts) -> ValidationRow:
    """The row to store: bound to both stamps, the policy and the suite, with the full results."""
    body = {"outcome": result.outcome, "categories": result.categories, "gated": result.gated,
            "scores": result.scores, "report": result.report.as_dict(), "pins_to_ship": result.pins(),
            "performance": result.performance, "early_warning": result.early_warning,
            "quality_outcome": result.quality_outcome or result.outcome,
            "suite": {"version": facts.suite.version, "sha256": facts.suite.sha256, "counts": facts.suite.counts()},
            "stamps": {"baseline": facts.stamps[0], "candidate": facts.stamps[1]}, "backends": facts.backends,
            "policy": {"stamp": facts.policy.stamp(), "document": facts.policy.model_dump(mode="json")},
            "run": {"concurrency": facts.concurrency, "sampling": facts.sampling, "wall_s": facts.wall_s}}
    return ValidationRow(created_at=datetime.now(UTC), actor=facts.actor,
                         baseline_stamp_sha256=stamp_sha256(facts.stamps[0]),
                         candidate_stamp_sha256=stamp_sha256(facts.stamps[1]), policy=facts.policy.stamp(),
                         suite=facts.suite.version, suite_sha256=facts.suite.sha256, outcome=result.outcome,
                         failing_json=json.dumps(result.failing), inconclusive_json=json.dumps(result.inconclusive),
                         identity_json=json.dumps(facts.identity, sort_keys=True, default=str),
                         result_json=json.dumps(body, default=str), wall_s=round(facts.wall_s, 1))
