"""The model benchmark's scoring: the gateway's detectors on each answer, pairs summarized per category."""

from __future__ import annotations

import pytest

from bench.model_quality import compare_category, python_parses, score, task_ok
from evals.templates import generate

MATH = {"id": "m1", "category": "math", "messages": [], "expect": {"type": "number", "value": 391}}
CODE = {"id": "c1", "category": "code", "messages": [], "expect": {"type": "python", "value": "def f"}}
JSON = {"id": "j1", "category": "json", "messages": [], "response_format": {"type": "json_object"},
        "expect": {"type": "json"}}
CHAT = {"id": "h1", "category": "chat", "messages": [], "expect": {"type": "not_refused"}}


@pytest.mark.parametrize(("text", "ok"), [("17 * 23 = 391.", True), ("The answer is 3,91", True),
                                          ("391000", False), ("It is 341.", False), ("", False)])
def test_math_answers_are_checked_by_number(text: str, ok: bool) -> None:
    assert task_ok(MATH, text) is ok


def test_code_is_parsed_never_run() -> None:
    assert python_parses("Here:\n```python\ndef f(x):\n    return x\n```\nDone.")
    assert not python_parses("```python\ndef f(x)\n    return x\n```")
    assert python_parses("def f():\n    import os; os._exit(3)\n")  # parsed only: the process is still here


def test_refusals_and_format_breaks_come_from_the_gateway_detectors() -> None:
    assert score(CHAT, "I'm sorry, but I can't help with that.", "stop", 9).refused
    assert not score(CHAT, "To kill a process on Linux, run kill -9 PID.", "stop", 12).refused
    broken = score(JSON, "Sure! name: Ada", "stop", 5)
    assert broken.format_checked and not broken.format_valid
    assert score(JSON, '{"name": "Ada"}', "stop", 5).format_valid


def test_category_comparison_counts_flips_and_keeps_empty_answers() -> None:
    base = [score(CHAT, "Weather is short term; climate is long term.", "stop", 10),
            score({**CHAT, "id": "h2"}, "Two sentences about the sky.", "stop", 6)]
    cand = [score(CHAT, "I cannot help with that request.", "stop", 7), score({**CHAT, "id": "h2"}, "", "stop", 0)]
    result = compare_category("chat", base, cand)
    assert result.pairs == 2 and result.exact_share == 0
    assert result.refusal == (0.0, 0.5)
    # The empty answer is a length ratio of 0, not a dropped pair.
    assert result.length_ratio_median == pytest.approx((0.7 + 0.0) / 2)


def test_identical_arms_compare_as_identical() -> None:
    items = generate("code", 5)
    answers = [score(item, "```python\ndef f():\n    return 1\n```", "stop", 12) for item in items]
    result = compare_category("code", answers, answers)
    assert result.exact_share == 1 and result.similarity_median == 1 and result.length_ratio_median == 1
    assert result.format_valid == (1.0, 1.0) and result.task == (1.0, 1.0)
