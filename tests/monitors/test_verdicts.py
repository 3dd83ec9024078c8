"""Verdicts: a planted regression is found in its category only; identical arms give no regression."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.pairs import PairSource, injected
from monitors.policy import DEFAULT_POLICY, load_policy
from monitors.verdicts import IMPROVEMENT, INSUFFICIENT, OK, REGRESSION, build_report


def test_planted_refusal_rise_is_a_regression_in_its_category_only() -> None:
    samples = PairSource(injected("benign-sensitive", 15.0), seed=3).samples(3000)
    report = build_report(samples, DEFAULT_POLICY, {"model": "fp16"}, {"model": "w4", "calibration_set": "c4-512"})
    regressions = report.regressions()
    assert [(v.category, v.metric) for v in regressions] == [("benign-sensitive", "refusal_rate")]
    verdict = regressions[0]
    assert verdict.effect > 0.05 and verdict.interval[0] > 0.01 and verdict.p_adjusted < 0.05
    # The six items: category, both stamps, metric, baseline value, calibration set, per-stratum breakdown.
    assert report.candidate_stamp["model"] == "w4" and report.calibration_set == "c4-512"
    assert verdict.baseline_value < verdict.candidate_value
    assert verdict.candidate_interval[0] < verdict.candidate_value < verdict.candidate_interval[1]
    assert report.strata["benign-sensitive"] > 100 and set(report.strata) >= {"chat", "json"}
    assert report.policy.startswith("quantgate-default@")


def test_identical_arms_give_no_regression_and_small_samples_no_verdict() -> None:
    report = build_report(PairSource({}, seed=11).samples(1500), DEFAULT_POLICY, {}, {})
    assert not report.regressions()
    assert {v.verdict for v in report.verdicts} <= {OK, INSUFFICIENT, IMPROVEMENT}
    small = build_report(PairSource({}, seed=12).samples(50), DEFAULT_POLICY, {}, {})
    assert {v.verdict for v in small.verdicts} == {INSUFFICIENT}


def test_improvement_is_reported_as_such() -> None:
    source = PairSource({"chat": injected("chat", 0.0)["chat"].model_copy(update={"refusal": 0.0})}, seed=5)
    better = build_report(source.samples(6000), DEFAULT_POLICY.model_copy(update={"min_paired_samples": 50}), {}, {})
    chat = next(v for v in better.verdicts if v.category == "chat" and v.metric == "refusal_rate")
    assert chat.verdict in (IMPROVEMENT, OK) and chat.effect < 0
    assert REGRESSION not in {v.verdict for v in better.verdicts if v.category == "chat"}


def test_policy_file_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("name: w4a16-rollout\nsignificance: 0.01\nmin_paired_samples: 200\ncalibration_set: ultrachat\n"
                    "defaults:\n  refusal_rate: {max_increase_pp: 0.5}\n  length_ratio: {min: 0.9, max: 1.1}\n"
                    "categories:\n  json:\n    format_break_rate: {max_increase_pp: 0.2}\n    min_paired_samples: 30\n")
    policy = load_policy(good)
    assert policy.tolerance("json", "format_break_rate").max_increase_pp == 0.2  # type: ignore[union-attr]
    assert policy.tolerance("chat", "format_break_rate") is None and policy.min_samples("json") == 30
    assert policy.stamp() != load_policy(None).stamp()
    for bad in ("name: x\ndefaults: {refusal_rate: {max_increase_pp: -1}}\n",
                "name: x\ndefaults: {length_ratio: {min: 1.2, max: 0.9}}\n",
                "name: x\nsignificance: 0.7\ndefaults: {}\n",
                "name: x\ndefaults: {refusal_rate: {max_increase_pp: 1}}\nsurprise: 1\n"):
        path = tmp_path / "bad.yaml"
        path.write_text(bad)
        with pytest.raises(ValidationError):
            load_policy(path)


def test_unpaired_live_verdicts_from_the_registry() -> None:
    from prometheus_client import CollectorRegistry

    from monitors.live import read_live_counts, unpaired_verdicts
    from monitors.metrics import GatewayMetrics, RequestRecord
    from monitors.quality_metrics import QualityMetrics

    metrics = GatewayMetrics(CollectorRegistry())
    quality = QualityMetrics(metrics.registry)
    for variant, refusals in (("baseline", 10), ("candidate", 80)):
        quality.judged.labels(variant, "chat", "primary").inc(1000)
        quality.refusals.labels(variant, "chat", "primary").inc(refusals)
        for _ in range(300):
            ttft = 0.05 if variant == "baseline" else 0.3
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, 1.0, ttft, 10))
    verdicts = {v.metric: v for v in unpaired_verdicts(read_live_counts(metrics.registry), DEFAULT_POLICY)}
    assert verdicts["refusal_rate"].verdict == REGRESSION
    assert abs(verdicts["refusal_rate"].effect - 0.07) < 1e-9
    assert verdicts["ttft_p95"].verdict == REGRESSION and verdicts["ttft_p95"].effect > 1
