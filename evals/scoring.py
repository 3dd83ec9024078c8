"""Scoring one answer to one suite item: the gateway's own detectors plus the item's reference check.

Nothing an answer contains is ever executed: code is only parsed (`ast`), JSON only loaded and validated.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from evals.suite import SuiteItem
from monitors.analysis.samples import PairSample
from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudge
from monitors.quality.detectors.language import identify
from shadow.compare import pair_figures

FENCE = re.compile(r"```(?:python|py|json)?\s*\n(.*?)(?:```|$)", re.S)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ArmAnswer:
    """What one backend answered to one item (as cached and resumed)."""

    item_id: str
    text: str
    finish_reason: str | None
    output_tokens: int | None
    latency_s: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (a line of the answers cache)."""
        return {"item_id": self.item_id, "text": self.text, "finish_reason": self.finish_reason,
                "output_tokens": self.output_tokens, "latency_s": self.latency_s}


def fenced_or_whole(text: str) -> str:
    """The first fenced block of an answer, or the whole answer."""
    match = FENCE.search(text)
    return match.group(1) if match else text


def python_parses(text: str) -> bool:
    """The answer's code parses as Python; nothing is executed."""
    try:
        ast.parse(fenced_or_whole(text))
    except (SyntaxError, ValueError):
        return False
    return True


def _first_json_object(text: str) -> Any:
    body = fenced_or_whole(text).strip()
    start = body.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(body[start:])
    except ValueError:
        return None
    return value


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.strip().casefold() == expected.strip().casefold()
    return expected == actual and type(expected) is type(actual)


def json_fields_match(text: str, fields: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """The answer holds a JSON object with these field values (and valid against the schema, when given)."""
    value = _first_json_object(text)
    if not isinstance(value, dict):
        return False
    if schema is not None:
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError:
            return False
    return all(_same(expected, value.get(key)) for key, expected in fields.items())


def task_result(item: SuiteItem, text: str, refused: bool, language: str | None) -> bool | None:
    """True when the answer passes the item's reference check, False when it fails, None when not checked."""
    expect = item.expect
    if expect.type == "number":
        return any(float(n) == float(expect.value) for n in NUMBER.findall(text.replace(",", "")))
    if expect.type == "json_fields":
        return json_fields_match(text, expect.value, expect.schema_)
    if expect.type == "python":
        return python_parses(text)
    if expect.type == "min_words":
        return len(text.split()) >= int(expect.value)
    if expect.type == "language":
        return None if language is None else language == expect.value
    if expect.type == "not_refused":
        return not refused
    if expect.type == "refused":
        return refused
    return None


def expected_language(item: SuiteItem, judge: AnswerJudge) -> str | None:
    """The item's declared language, else its prompt's (as the live detector reads it)."""
    if item.expect.type == "language":
        return str(item.expect.value)
    prompt = " ".join(m.content for m in item.messages if m.role == "user")
    return identify(prompt, tuple(judge.settings.languages))


def judge_item(judge: AnswerJudge, item: SuiteItem, answer: ArmAnswer) -> dict[str, Any]:
    """The answer's judgement with the reference check added (`task_checked`, `task_failed`)."""
    judgement = judge.judge(answer.text, answer.finish_reason, answer.output_tokens, item.response_format,
                            item.category, expected_language(item, judge))
    verdict = judgement.as_dict()
    passed = task_result(item, answer.text, judgement.refused, judgement.answer_language)
    verdict["task_checked"] = passed is not None
    verdict["task_failed"] = passed is False
    return verdict


def _captured(answer: ArmAnswer, variant: str) -> CapturedAnswer:
    return CapturedAnswer(variant, answer.text, answer.finish_reason, answer.output_tokens, None, answer.latency_s,
                          True)


def score_pair(judge: AnswerJudge, item: SuiteItem, baseline: ArmAnswer, candidate: ArmAnswer) -> PairSample:
    """One item's two answers as the statistics see a shadow pair (latency is judged live, not here)."""
    figures = pair_figures(_captured(baseline, "baseline"), _captured(candidate, "candidate"), 256)
    # An empty candidate answer is ratio 0, never dropped: it is the worst length drift there is.
    ratio = figures.length_ratio if figures.length_ratio is not None else (0.0 if baseline.text else None)
    return PairSample(item.category, judge_item(judge, item, baseline), judge_item(judge, item, candidate),
                      ratio, figures.similarity, None, None)
