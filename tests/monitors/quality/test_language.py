"""The language-mismatch detector: confident identifications only, structured answers skipped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from monitors.quality.detectors.language import check_language, identify

JUDGE = AnswerJudge(DetectorSettings())


@pytest.mark.parametrize(("text", "language"), [
    ("Pays : Italie. Quelle est sa capitale ? Réponds en une phrase, en français.", "fr"),
    ("Erkläre in einem Satz auf Deutsch, was ein Regenbogen ist.", "de"),
    ("La capital de Italia es Roma, una ciudad con mucha historia.", "es"),
    ("The capital of Italy is Rome, a city with a long history.", "en"),
])
def test_identifies_the_languages_it_is_told_to_choose_among(text: str, language: str) -> None:
    assert identify(text) == language


@pytest.mark.parametrize("text", ["42", "Rome.", "def f(x): return x",
                                  "```python\nprint('hello world, how are you')\n```"])
def test_too_little_prose_is_not_identified(text: str) -> None:
    assert identify(text) is None
    assert check_language(text, "fr").checked is False


def test_an_english_answer_to_a_french_prompt_is_a_mismatch_once() -> None:
    answer = "The capital of Italy is Rome, and it is a beautiful old city."
    judged = JUDGE.judge(answer, "stop", 14, None, "multilingual", expected_language="fr")
    assert (judged.language_checked, judged.language_mismatch, judged.answer_language) == (True, True, "en")
    refusal = JUDGE.judge("I'm sorry, but I can't help with that request at all.", "stop", 12, None, "chat", "fr")
    assert refusal.refused and not refusal.language_mismatch  # counted as a refusal, not twice


def test_structured_answers_and_unknown_prompt_languages_are_not_checked() -> None:
    assert not JUDGE.judge('{"city": "Lyon"}', "stop", 5, {"type": "json_object"}, "json", "fr").language_checked
    assert not JUDGE.judge("The capital is Rome, a very old city.", "stop", 8, None, "chat", None).language_checked


@given(st.text(max_size=500), st.sampled_from(["en", "fr", None]))
@settings(max_examples=200)
def test_any_text_gives_a_consistent_answer(text: str, expected: str | None) -> None:
    check = check_language(text, expected)
    assert not check.mismatch or (check.checked and check.detected != expected)
