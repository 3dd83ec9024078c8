"""The side-by-side diff: the segments are the texts, the unchanged ones are common to both, the divergence is exact."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.console.pair_view import divergence, word_diff

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)


@given(texts, texts)
def test_segments_rebuild_both_answers_and_agree_where_unchanged(baseline: str, candidate: str) -> None:
    base, cand = word_diff(baseline, candidate)
    assert "".join(s.text for s in base) == baseline and "".join(s.text for s in cand) == candidate
    assert [s.text for s in base if not s.changed] == [s.text for s in cand if not s.changed]


@given(texts, texts)
def test_divergence_is_the_first_differing_character(baseline: str, candidate: str) -> None:
    at = divergence(baseline, candidate)
    if baseline == candidate:
        assert at is None
    else:
        assert at is not None and baseline[:at] == candidate[:at]
        assert at == min(len(baseline), len(candidate)) or baseline[at] != candidate[at]


def test_a_refusal_against_an_answer_marks_the_words_that_differ() -> None:
    base, cand = word_diff("The capital of France is Paris.", "The capital of France is unknown to me.")
    assert [s.text for s in base if s.changed] == ["Paris"]
    assert "".join(s.text for s in cand if s.changed) == "unknown to me"
    assert divergence("The capital of France is Paris.", "The capital of France is unknown to me.") == 25
