"""Missing answers do not leave the metrics: a candidate that answers nothing 30% of the time is a regression."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from monitors.analysis.live import read_live_counts, unpaired_verdicts
from monitors.analysis.policy import DEFAULT_POLICY
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import OK, REGRESSION, SINGLE, report_from_samples
from monitors.metrics import GatewayMetrics
from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from monitors.quality.metrics import QualityMetrics

JUDGE = AnswerJudge(DetectorSettings())


def test_an_answer_of_nothing_but_whitespace_is_judged_empty_and_nothing_else_is() -> None:
    assert JUDGE.judge(" \n\t", "stop", 3, None, "chat").empty
    assert not JUDGE.judge("Yes.", "stop", 2, None, "chat").empty
    # Empty is not a refusal, a format break (outside structured categories) or a repetition loop.
    empty = JUDGE.judge("", "stop", 0, None, "chat")
    assert not (empty.refused or empty.format_broken or empty.repetitive)


def _pairs(n: int, empty_every: int) -> list[PairSample]:
    """Pairs whose candidate answers nothing every `empty_every`-th time (ratio 0, similarity 0 there)."""
    pairs = []
    for i in range(n):
        empty = i % empty_every == 0
        baseline = JUDGE.judge("A full answer with several words in it.", "stop", 9, None, "chat").as_dict()
        candidate = JUDGE.judge("" if empty else "A full answer with several words in it.", "stop",
                                0 if empty else 9, None, "chat").as_dict()
        pairs.append(PairSample("chat", baseline, candidate, 0.0 if empty else 1.0, 0.0 if empty else 1.0,
                                None, None))
    return pairs


def test_thirty_percent_empty_answers_pass_the_median_tests_but_not_the_empty_answer_rate() -> None:
    samples = _pairs(1000, empty_every=3)  # 334 of 1,000 empty
    verdicts = {v.metric: v for v in report_from_samples(samples, DEFAULT_POLICY, {}, {}, looks=SINGLE).verdicts}
    # The median tests are blind to it (two thirds of the pairs are fine)...
    assert verdicts["length_ratio"].verdict != REGRESSION and verdicts["similarity"].verdict != REGRESSION
    # ... the empty-answer rate is not.
    empty = verdicts["empty_answer_rate"]
    assert empty.verdict == REGRESSION and empty.candidate_value > 0.3 and empty.baseline_value == 0


def test_live_traffic_judges_empty_answers_per_arm() -> None:
    metrics = GatewayMetrics(CollectorRegistry())
    quality = QualityMetrics(metrics.registry)
    full = JUDGE.judge("A full answer.", "stop", 4, None, "chat")
    nothing = JUDGE.judge("", "stop", 0, None, "chat")
    for i in range(600):
        quality.observe_answer("baseline", "chat", "primary", full, candidate_share=50.0)
        quality.observe_answer("candidate", "chat", "primary", nothing if i % 3 == 0 else full, candidate_share=50.0)
    verdicts = {v.metric: v for v in unpaired_verdicts(read_live_counts(metrics.registry), DEFAULT_POLICY)}
    assert verdicts["empty_answer_rate"].verdict == REGRESSION
    assert verdicts["refusal_rate"].verdict in (OK, "inconclusive")
