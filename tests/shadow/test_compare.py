"""Paired comparison figures and flips."""

from __future__ import annotations

from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from shadow.compare import CANDIDATE_BETTER, CANDIDATE_WORSE, compare, pair_figures
from simulator.generation import SimRequest, generate
from simulator.profile import FaultRates


def _answer(variant: str, text: str, tokens: int | None = None) -> CapturedAnswer:
    return CapturedAnswer(variant, text, "stop", tokens, 0.05, 0.5, True)


def test_identical_answers() -> None:
    f = pair_figures(_answer("baseline", "Same text."), _answer("candidate", "Same text."), 256)
    assert f.exact_match and f.similarity == 1.0 and f.first_divergence is None


def test_divergence_position_and_length_ratio() -> None:
    f = pair_figures(_answer("baseline", "abcd efgh", 10), _answer("candidate", "abcd wxyz and more", 15), 256)
    assert f.first_divergence == round(5 / 9, 4)
    assert f.length_ratio == 1.5 and 0 < f.similarity < 1


def test_drift_that_grows_with_length_shows_in_the_tail_segment() -> None:
    request = SimRequest("long prompt", 1, 600, 600, "long", None)
    base = generate(request, None)
    drifted = generate(request, FaultRates(drift=0.5))
    f = pair_figures(_answer("baseline", base.text), _answer("candidate", drifted.text), 256)
    assert f.similarity_tail is not None and f.similarity_tail < f.similarity_head - 0.1


def test_flips_name_the_arm_that_got_worse() -> None:
    judge = AnswerJudge(DetectorSettings())
    ok, refused = _answer("b", "Sure, here you go."), _answer("c", "I'm sorry, but I can't help with that.")
    j_ok = judge.judge(ok.text, "stop", 5, None, "chat")
    j_refused = judge.judge(refused.text, "stop", 9, None, "chat")
    worse = compare("r1", "chat", "baseline", ok, refused, j_ok, j_refused)
    better = compare("r2", "chat", "baseline", refused, ok, j_refused, j_ok)
    assert worse.refusal_flip == CANDIDATE_WORSE and better.refusal_flip == CANDIDATE_BETTER
    assert worse.any_flip and worse.format_flip is None


def test_a_language_flip_is_stored_with_the_pair_and_can_be_filtered_on() -> None:
    from flags.comparisons import FLIP_COLUMNS
    from shadow.settings import ComparisonStoreSettings
    from shadow.writer import comparison_row

    judge = AnswerJudge(DetectorSettings())
    english = _answer("b", "The weather in Paris is mild in spring, with rain showers and cool evenings.")
    french = _answer("c", "Le temps à Paris est doux au printemps, avec des averses et des soirées fraîches.")
    j_en = judge.judge(english.text, "stop", 20, None, "chat", expected_language="en")
    j_fr = judge.judge(french.text, "stop", 20, None, "chat", expected_language="en")
    comparison = compare("r3", "chat", "baseline", english, french, j_en, j_fr)
    assert comparison.language_flip == CANDIDATE_WORSE
    row = comparison_row(comparison, "k", ({}, {}), "prompt", ComparisonStoreSettings(), lambda text: text)
    assert row.language_flip == CANDIDATE_WORSE and row.any_flip and "language" in FLIP_COLUMNS
