"""Verdicts: a planted regression is found in its category only; identical arms give no regression."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.pairs import PairSource, injected
from monitors.analysis.policy import DEFAULT_POLICY, load_policy
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import IMPROVEMENT, INCONCLUSIVE, INSUFFICIENT, OK, REGRESSION
from monitors.analysis.verdicts import report_from_samples as build_report


def test_planted_refusal_rise_is_a_regression_in_its_category_only() -> None:
    samples = PairSource(injected("benign-sensitive", 15.0), seed=3).samples(3000)
    report = build_report(samples, DEFAULT_POLICY, {"model": "fp16"}, {"model": "w4", "calibration_set": "c4-512"})
    regressions = report.regressions()
    assert [(v.category, v.metric) for v in regressions] == [("benign-sensitive", "refusal_rate")]
    verdict = regressions[0]
    assert verdict.effect > 0.05 and verdict.interval[0] > 0.01 and verdict.p_adjusted < 0.05
    assert verdict.interval_level is not None and verdict.interval_level > 0.95  # adjusted for the family
    # The six items: category, both stamps, metric, baseline value, calibration set, per-stratum breakdown.
    assert report.candidate_stamp["model"] == "w4" and report.calibration_set == "c4-512"
    assert verdict.baseline_value < verdict.candidate_value
    assert verdict.candidate_interval[0] < verdict.candidate_value < verdict.candidate_interval[1]
    assert report.strata["benign-sensitive"] > 100 and set(report.strata) >= {"chat", "json"}
    assert report.policy.startswith("quantgate-default@")


def test_identical_arms_give_no_regression_and_small_samples_no_verdict() -> None:
    report = build_report(PairSource({}, seed=11).samples(1500), DEFAULT_POLICY, {}, {})
    assert not report.regressions()
    assert {v.verdict for v in report.verdicts} <= {OK, INSUFFICIENT, IMPROVEMENT, INCONCLUSIVE}
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


def _live_registry() -> tuple[object, object, object]:
    from prometheus_client import CollectorRegistry

    from monitors.metrics import GatewayMetrics
    from monitors.quality.metrics import QualityMetrics

    metrics = GatewayMetrics(CollectorRegistry())
    return metrics, QualityMetrics(metrics.registry), metrics.registry


def _answers(quality: object, variant: str, share: float, n: int, refusals: int, category: str = "chat") -> None:
    from monitors.quality.detectors.answer import AnswerJudgement

    for i in range(n):
        judgement = AnswerJudgement(i < refusals, None, False, False, None, 0.0, False, False, 10, 40)
        quality.observe_answer(variant, category, "primary", judgement, share)  # type: ignore[attr-defined]


def test_unpaired_live_verdicts_from_the_registry() -> None:
    from monitors.analysis.live import read_live_counts, unpaired_verdicts
    from monitors.metrics import RequestRecord

    metrics, quality, registry = _live_registry()
    _answers(quality, "baseline", 50.0, 1000, 10)
    _answers(quality, "candidate", 50.0, 1000, 80)
    for variant, ttft in (("baseline", 0.05), ("candidate", 0.3)):
        for _ in range(300):
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, 1.0, ttft, 10,  # type: ignore[attr-defined]
                                                  candidate_share=50.0))
    verdicts = {v.metric: v for v in unpaired_verdicts(read_live_counts(registry), DEFAULT_POLICY)}  # type: ignore[arg-type]
    assert verdicts["refusal_rate"].verdict == REGRESSION
    assert abs(verdicts["refusal_rate"].effect - 0.07) < 1e-9
    assert verdicts["ttft_p95"].verdict == REGRESSION and verdicts["ttft_p95"].effect > 1


def test_a_ramp_during_a_base_rate_change_is_not_read_as_a_difference_between_identical_arms() -> None:
    # The review's example: 10% rollout while the base refusal rate is 1%, then 50% while it is 4%. Identical arms;
    # pooled since start-up the candidate looks +1.43 pp worse. Within routing strata there is nothing.
    from monitors.analysis.live import read_live_counts, unpaired_verdicts

    _, quality, registry = _live_registry()
    _answers(quality, "baseline", 10.0, 18_000, 180)
    _answers(quality, "candidate", 10.0, 2_000, 20)
    _answers(quality, "baseline", 50.0, 10_000, 400)
    _answers(quality, "candidate", 50.0, 10_000, 400)
    pooled = 420 / 12_000 - 580 / 28_000
    assert round(pooled * 100, 2) == 1.43  # what pooling since start-up would report
    refusal = next(v for v in unpaired_verdicts(read_live_counts(registry), DEFAULT_POLICY)  # type: ignore[arg-type]
                   if v.metric == "refusal_rate")
    assert abs(refusal.effect) < 1e-12 and refusal.verdict != REGRESSION
    assert refusal.interval[0] < 0 < refusal.interval[1] and "Mantel-Haenszel" in refusal.method
    assert refusal.interval_kind.startswith("anytime-valid")  # /admin/verdicts is reloaded: peeking is allowed
    single = next(v for v in unpaired_verdicts(read_live_counts(registry), DEFAULT_POLICY, looks="single")  # type: ignore[arg-type]
                  if v.metric == "refusal_rate")
    # The single-look interval (Sato) is narrower; both contain 0.
    assert refusal.interval[0] < single.interval[0] < 0 < single.interval[1] < refusal.interval[1]


def _refusal_pairs(category: str, n: int, worse: int, better: int, both: int = 0) -> list[PairSample]:
    """n pairs whose refusals disagree `worse` times against the candidate and `better` times for it."""
    judged = {"format_checked": False, "format_broken": False, "repetitive": False}
    flags = ([(False, True)] * worse + [(True, False)] * better + [(True, True)] * both
             + [(False, False)] * (n - worse - better - both))
    return [PairSample(category, {**judged, "refused": b}, {**judged, "refused": c}, 1.0, 0.9, None, None)
            for b, c in flags]


def _refusal_verdict(samples: list[PairSample]) -> object:
    policy = DEFAULT_POLICY.model_copy(update={"min_paired_samples": 100})
    report = build_report(samples, policy, {}, {})
    return next(v for v in report.verdicts if v.metric == "refusal_rate")


def test_no_evidence_is_not_within_tolerance() -> None:
    # +3 pp against a 1 pp tolerance, too few pairs to prove it: inconclusive with the worst case shown, never "ok".
    verdict = _refusal_verdict(_refusal_pairs("chat", 200, worse=8, better=2))
    assert verdict.verdict == INCONCLUSIVE and verdict.interval[1] > 0.01  # type: ignore[attr-defined]
    assert verdict.pairs_needed is not None and verdict.pairs_needed > 200  # type: ignore[attr-defined]


def test_a_rise_beyond_the_tolerance_is_a_regression_and_equal_arms_are_shown_within_it() -> None:
    assert _refusal_verdict(_refusal_pairs("chat", 10_000, worse=400, better=100)).verdict == REGRESSION  # type: ignore[attr-defined]
    # Identical refusals on 10,000 pairs: the interval sits inside ±1 pp, so "ok" means within tolerance.
    same = _refusal_verdict(_refusal_pairs("chat", 10_000, worse=20, better=20, both=50))
    assert same.verdict == OK and same.interval[1] < 0.01  # type: ignore[attr-defined]


def test_no_discordant_pair_never_gives_a_zero_width_interval() -> None:
    verdict = _refusal_verdict(_refusal_pairs("chat", 150, worse=0, better=0))
    low, high = verdict.interval  # type: ignore[attr-defined]
    assert low < 0 < high and verdict.verdict == INCONCLUSIVE  # type: ignore[attr-defined]


def _pairs_with(category: str, ratios: list[float | None], similarities: list[float]) -> list[PairSample]:
    judged = {"refused": False, "format_checked": False, "format_broken": False, "repetitive": False}
    return [PairSample(category, judged, judged, r, s, None, None) for r, s in zip(ratios, similarities, strict=True)]


def test_similarity_median_below_the_minimum_is_found_even_when_skewed() -> None:
    # 60% of pairs just under 0.6 and a long tail of near-identical answers: median 0.555 < 0.6.
    sims = [0.555] * 1200 + [0.99] * 800
    verdict = next(v for v in build_report(_pairs_with("chat", [1.0] * 2000, sims), DEFAULT_POLICY, {}, {}).verdicts
                   if v.metric == "similarity")
    assert verdict.verdict == REGRESSION and verdict.effect == 0.6


def test_empty_candidate_answers_count_against_the_length_ratio() -> None:
    ratios: list[float | None] = [0.0] * 1200 + [1.0] * 800  # 60% empty answers
    verdict = next(v for v in build_report(_pairs_with("chat", ratios, [0.9] * 2000), DEFAULT_POLICY, {}, {}).verdicts
                   if v.metric == "length_ratio")
    assert verdict.verdict == REGRESSION and verdict.n == 2000


def test_paired_and_live_tests_share_one_family() -> None:
    from monitors.analysis.live import live_tests, read_live_counts, unpaired_verdicts
    from monitors.analysis.window_data import window_from_samples

    window = window_from_samples(_refusal_pairs("chat", 1000, worse=10, better=10), DEFAULT_POLICY)
    alone = build_report_of(window)
    paired = sum(v.verdict != INSUFFICIENT for v in alone.verdicts)
    _, quality, registry = _live_registry()
    _answers(quality, "baseline", 50.0, 1000, 10)
    _answers(quality, "candidate", 50.0, 1000, 12)
    live = read_live_counts(registry)  # type: ignore[arg-type]
    extra = live_tests(live, DEFAULT_POLICY)
    shared = build_report_of(window, other_tests=extra)
    alpha, family = DEFAULT_POLICY.significance, paired + extra
    # refusal, repetition and empty-answer rates (every judged answer counts for them).
    assert extra == 3 and shared.verdicts[0].interval_level == pytest.approx(1 - 2 * alpha / family)
    live_verdict = unpaired_verdicts(live, DEFAULT_POLICY, other_tests=paired)[0]
    assert live_verdict.interval_level == pytest.approx(1 - 2 * alpha / family)


def build_report_of(window: object, other_tests: int = 0) -> object:
    from monitors.analysis.verdicts import build_report as build

    return build(window, DEFAULT_POLICY, {}, {}, other_tests=other_tests)  # type: ignore[arg-type]


def test_each_live_verdict_rests_on_the_answers_its_size_says() -> None:
    from monitors.analysis.live import read_live_counts, unpaired_verdicts
    from monitors.metrics import RequestRecord

    metrics, quality, registry = _live_registry()
    _answers(quality, "baseline", 50.0, 400, 4)
    _answers(quality, "candidate", 50.0, 300, 3)
    _answers(quality, "candidate", 100.0, 500, 5)  # a pinned stratum: one arm only, nothing to compare
    for variant, count in (("baseline", 150), ("candidate", 120)):
        for _ in range(count):
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, 1.0, 0.1, 10,  # type: ignore[attr-defined]
                                                  candidate_share=50.0))
    verdicts = {v.metric: v for v in unpaired_verdicts(read_live_counts(registry), DEFAULT_POLICY)}  # type: ignore[arg-type]
    assert verdicts["refusal_rate"].n == 300 and verdicts["ttft_p95"].n == 120
    assert verdicts["format_break_rate"].verdict == INSUFFICIENT and verdicts["format_break_rate"].n == 0


def test_live_language_mismatches_are_judged_when_the_policy_has_a_tolerance() -> None:
    from monitors.analysis.live import read_live_counts, unpaired_verdicts
    from monitors.analysis.policy import MetricTolerances, RateTolerance, RegressionPolicy
    from monitors.quality.detectors.answer import AnswerJudgement

    _, quality, registry = _live_registry()
    for variant, mismatches in (("baseline", 10), ("candidate", 150)):
        for i in range(1000):
            judgement = AnswerJudgement(False, None, False, False, None, 0.0, False, False, 10, 40,
                                        language_checked=True, language_mismatch=i < mismatches)
            quality.observe_answer(variant, "multilingual", "primary", judgement, 50.0)  # type: ignore[attr-defined]
    policy = RegressionPolicy(name="lang", defaults=MetricTolerances(language_mismatch_rate=RateTolerance(
        max_increase_pp=2)))
    verdict = next(v for v in unpaired_verdicts(read_live_counts(registry), policy))  # type: ignore[arg-type]
    assert (verdict.metric, verdict.verdict, verdict.n) == ("language_mismatch_rate", REGRESSION, 1000)
    assert abs(verdict.effect - 0.14) < 1e-9
    defaults = unpaired_verdicts(read_live_counts(registry), DEFAULT_POLICY)  # type: ignore[arg-type]
    assert defaults and "language_mismatch_rate" not in {v.metric for v in defaults}  # no tolerance, no test


def test_the_length_ratio_shows_ok_at_its_labelled_level() -> None:
    """Each side of the interval is one-sided at the labelled level: the upper bounds (both needed for "ok") are
    at the full level, not half of it (which made "ok" harder to reach than the label said)."""
    from monitors.analysis.sign_tests import share_interval
    from monitors.analysis.verdicts import SINGLE

    n, alpha = 400, 0.05
    policy = DEFAULT_POLICY.model_copy(update={"min_paired_samples": 50})
    report = build_report(_pairs_with("chat", [1.0] * n, [0.9] * n), policy, {}, {}, looks=SINGLE)
    side = (1 - next(v for v in report.verdicts if v.metric == "length_ratio").interval_level) / 2
    # A share below the minimum whose upper bound clears one half at `side` but not at `side / 2`.
    below = next(k for k in range(n) if share_interval(k, n, 2 * side)[1] < 0.5 <= share_interval(k, n, side)[1])
    ratios = [0.5] * below + [1.0] * (n - below)
    verdict = next(v for v in build_report(_pairs_with("chat", ratios, [0.9] * n), policy, {}, {},
                                           looks=SINGLE).verdicts if v.metric == "length_ratio")
    assert verdict.verdict == OK and verdict.interval[1] < 0.5
    assert verdict.interval_level == pytest.approx(1 - 2 * side) and alpha > 2 * side
