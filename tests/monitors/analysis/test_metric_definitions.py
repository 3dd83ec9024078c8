"""The metric table: every analysis judges what the table says it can measure, nothing more and nothing less."""

from __future__ import annotations

import typing

from prometheus_client import CollectorRegistry

from monitors.analysis.guard import GUARDED, GuardSettings, RolloutGuard
from monitors.analysis.live import read_live_counts, unpaired_verdicts
from monitors.analysis.metric_definitions import METRICS, definition
from monitors.analysis.policy import (
    LatencyTolerance,
    MetricTolerances,
    RateTolerance,
    RatioTolerance,
    RegressionPolicy,
    SimilarityTolerance,
)
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import report_from_samples
from monitors.metrics import GatewayMetrics, RequestRecord
from monitors.quality.detectors.answer import AnswerJudgement
from monitors.quality.metrics import QualityMetrics

EVERY_TOLERANCE = MetricTolerances(
    refusal_rate=RateTolerance(max_increase_pp=1), format_break_rate=RateTolerance(max_increase_pp=1),
    repetition_rate=RateTolerance(max_increase_pp=1), language_mismatch_rate=RateTolerance(max_increase_pp=1),
    empty_answer_rate=RateTolerance(max_increase_pp=1), shadow_failure_rate=RateTolerance(max_increase_pp=1),
    task_failure_rate=RateTolerance(max_increase_pp=1),
    length_ratio=RatioTolerance(min=0.8, max=1.25),
    similarity=SimilarityTolerance(min_median=0.5), ttft_p95=LatencyTolerance(max_increase_pct=20),
    itl_p95=LatencyTolerance(max_increase_pct=20), total_p95=LatencyTolerance(max_increase_pct=20))
POLICY = RegressionPolicy(name="every-metric", min_paired_samples=10, defaults=EVERY_TOLERANCE)


def test_the_policy_file_offers_a_tolerance_of_the_right_kind_for_every_metric_and_no_other() -> None:
    hints = typing.get_type_hints(MetricTolerances)
    assert list(MetricTolerances.model_fields) == [metric.name for metric in METRICS]
    for metric in METRICS:
        assert metric.tolerance in typing.get_args(hints[metric.name]), metric.name
    assert EVERY_TOLERANCE.model_dump(exclude_none=True).keys() == {metric.name for metric in METRICS}


def _pair(i: int) -> PairSample:
    checked = {"format_checked": True, "language_checked": True, "task_checked": True}
    judged = {**checked, "refused": False, "format_broken": False, "repetitive": False,
              "language_mismatch": False, "task_failed": i % 7 == 0}
    # Shadow traffic: a failed shadow would have been a sample too, so the failure rate is judged.
    return PairSample("json", judged, dict(judged), 0.9, 1.0, 0.05 + i / 1e4, 0.06 + i / 1e4, shadow_tracked=True)


def test_paired_verdicts_judge_every_metric_of_the_table_in_its_order() -> None:
    report = report_from_samples([_pair(i) for i in range(200)], POLICY, {}, {})
    # Every metric but the live-only inter-token latency (pairs keep TTFT and total time, not the stream's gaps).
    assert [v.metric for v in report.verdicts] == [metric.name for metric in METRICS if metric.paired]
    assert [metric.name for metric in METRICS if not metric.paired] == ["itl_p95"]
    methods = {v.metric: v.method for v in report.verdicts}
    assert "whole-answer p95" in methods["total_p95"] and "TTFT p95" in methods["ttft_p95"]


def test_live_verdicts_judge_exactly_the_metrics_live_traffic_measures() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    quality = QualityMetrics(metrics.registry)
    for variant in ("baseline", "candidate"):
        for i in range(50):
            judgement = AnswerJudgement(i % 9 == 0, None, True, False, None, 0.0, False, False, 10, 40,
                                        language_checked=True)
            quality.observe_answer(variant, "chat", "primary", judgement, 50.0)
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, 1.0, 0.05, 10,
                                                  candidate_share=50.0))
    judged = [v.metric for v in unpaired_verdicts(read_live_counts(metrics.registry), POLICY)]
    assert judged == [metric.name for metric in METRICS if metric.live]
    assert "task_failure_rate" not in judged and "total_p95" not in judged  # no references, no per-answer total
    assert "itl_p95" in judged


def test_the_guard_runs_one_sequential_test_per_stored_bound_and_sizes_its_family_by_them() -> None:
    assert GUARDED == ("refusal_rate", "format_break_rate", "repetition_rate", "shadow_failure_rate",
                       "length_ratio_below", "length_ratio_above", "similarity")
    assert {definition(test).name for test in GUARDED} == {m.name for m in METRICS if m.stored}
    guard = RolloutGuard(GuardSettings(), POLICY, flags=None, comparisons=None,  # type: ignore[arg-type]
                         categories=["chat", "json"])
    assert guard.family() == 3 * len(GUARDED)  # two named categories and `other`
