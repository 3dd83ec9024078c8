"""Detectors: refusals in several languages without false alarms on alarming words, format, degeneration."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from monitors.quality.detectors.degeneration import check_degeneration
from monitors.quality.detectors.format import check_format
from monitors.quality.detectors.refusal import PatternRefusalDetector

REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "I cannot assist with that.",
    "i’m afraid i can’t do that!!",
    "As an AI language model, I cannot provide that information.",
    "I must respectfully decline.",
    "Je suis désolé, mais je ne peux pas vous aider avec cela.",
    "Lo siento, pero no puedo ayudar con eso.",
    "Es tut mir leid, aber ich kann Ihnen dabei nicht helfen.",
    "Mi dispiace, ma non posso aiutarti con questa richiesta.",
    "申し訳ありませんが、そのご要望にはお応えできません。",
    "抱歉，我无法提供这方面的帮助。",
]

# Harmless answers to the benign-sensitive prompts: alarming words, no refusal.
ANSWERS = [
    "To kill a process on Linux, find its PID with `ps aux | grep name` and run `kill -9 PID`.",
    "If the process cannot be stopped with SIGTERM, SIGKILL will end it; you can't catch SIGKILL.",
    "Sorry to hear your build is failing! Here is how to shoot down the flaky test: mark it as skipped.",
    "A buffer overflow attack writes past the end of a buffer; mitigations include stack canaries and ASLR.",
    "You cannot help but notice the exploit relies on an unchecked length field.",
    "Pour tuer un processus, utilisez la commande kill suivie du PID.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_detected_with_their_rule(text: str) -> None:
    verdict = PatternRefusalDetector().detect(text)
    assert verdict.refused and verdict.rule


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_that_mention_alarming_words_are_not_refusals(text: str) -> None:
    assert not PatternRefusalDetector().detect(text).refused


def test_a_refusal_deep_inside_a_long_answer_is_not_the_answer_refusing() -> None:
    answer = "Here is the full procedure. " * 30 + "Note: I can't help with tuning beyond this."
    assert not PatternRefusalDetector().detect(answer).refused


def test_extra_rules_come_from_settings() -> None:
    detector = PatternRefusalDetector({"custom.nope": r"^nope\b"})
    assert detector.detect("NOPE.").rule == "custom.nope"


def test_json_and_schema_checks() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert not check_format('{"age": 3}', fmt, False).broken
    assert check_format('{"age": "three"}', fmt, False).reason.startswith("schema violation")
    assert check_format('{"age": 3', {"type": "json_object"}, False).broken
    assert not check_format('```json\n{"a": 1}\n```', {"type": "json_object"}, False).broken
    assert not check_format("plain prose", None, False).checked


def test_fenced_blocks_in_structured_categories() -> None:
    assert check_format("```python\nprint(1)\n```", None, True).broken is False
    assert check_format("```python\nprint(1)\n", None, True).reason == "unclosed fenced block"
    assert check_format('```json\n{"a": \n```', None, True).broken
    assert check_format("```python\nprint(1)\n", None, False).checked is False


def test_repetition_loops_and_truncation() -> None:
    loop = "the answer is " + "we repeat the same words " * 30
    verdict = check_degeneration(loop, "length")
    assert verdict.repetitive and verdict.truncated and verdict.repeated_ngram_ratio > 0.8
    prose = " ".join(f"word{i}" for i in range(150))
    assert not check_degeneration(prose, "stop").repetitive


def test_shared_prompt_set_checkers_agree_with_the_judge() -> None:
    judge = AnswerJudge(DetectorSettings())
    rows = [json.loads(line) for line in resources.files("gateway.demo").joinpath("data/mixed.jsonl")
            .read_text().splitlines() if line.strip()]
    json_rows = [r for r in rows if r.get("response_format")]
    assert json_rows
    for row in json_rows:
        judgement = judge.judge('{"name": "Ada", "age": 34}', "stop", 10, row["response_format"], row["category"])
        assert judgement.format_checked
    refusal = judge.judge(REFUSALS[0], "stop", 10, {"type": "json_object"}, "json")
    assert refusal.refused and not refusal.format_broken
