"""Scoring and pairing of answers for the model benchmark: the gateway's own detectors and comparison figures."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Any

from evals.scoring import python_parses
from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from shadow.compare import pair_figures

JUDGE = AnswerJudge(DetectorSettings())


@dataclass(frozen=True)
class ScoredAnswer:
    """One arm's answer to one prompt, with what the detectors and the task checker say."""

    prompt_id: str
    category: str
    text: str
    finish_reason: str | None
    output_tokens: int | None
    refused: bool
    format_checked: bool
    format_valid: bool
    repetitive: bool
    task_ok: bool | None


def task_ok(item: dict[str, Any], text: str) -> bool | None:
    """The item's own checker where it is cheap and objective (math answers, code that parses); else None."""
    expect = item.get("expect") or {}
    if expect.get("type") == "number":
        return str(expect["value"]) in re.findall(r"-?\d+", text.replace(",", ""))
    if expect.get("type") == "python":
        return python_parses(text)
    return None


def score(item: dict[str, Any], text: str, finish_reason: str | None, output_tokens: int | None) -> ScoredAnswer:
    """Judge one answer as the gateway judges live traffic."""
    judgement = JUDGE.judge(text, finish_reason, output_tokens, item.get("response_format"), item["category"])
    checked = judgement.format_checked or item["category"] == "code"
    valid = python_parses(text) if item["category"] == "code" else not judgement.format_broken
    return ScoredAnswer(item["id"], item["category"], text, finish_reason, output_tokens, judgement.refused,
                        checked, valid if checked else True, judgement.repetitive, task_ok(item, text))


def _captured(answer: ScoredAnswer, variant: str) -> CapturedAnswer:
    return CapturedAnswer(variant, answer.text, answer.finish_reason, answer.output_tokens, None, 0.0, True)


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


@dataclass(frozen=True)
class CategoryComparison:
    """A candidate against the baseline on one category's prompts."""

    category: str
    pairs: int
    exact_share: float
    similarity_median: float
    length_ratio_median: float
    refusal: tuple[float, float]
    format_valid: tuple[float, float] | None
    repetition: tuple[float, float]
    task: tuple[float, float] | None


def compare_category(category: str, baseline: list[ScoredAnswer], candidate: list[ScoredAnswer]) -> CategoryComparison:
    """Pair answers by prompt id and summarize the differences the gateway's shadow comparison would see."""
    by_id = {a.prompt_id: a for a in candidate}
    pairs = [(b, by_id[b.prompt_id]) for b in baseline if b.prompt_id in by_id]
    figures = [pair_figures(_captured(b, "baseline"), _captured(c, "candidate"), 256) for b, c in pairs]
    # An empty candidate answer is ratio 0, never dropped: it is the worst length drift there is.
    ratios = [f.length_ratio if f.length_ratio is not None else 0.0 for f in figures]
    checked = [(b, c) for b, c in pairs if b.format_checked]
    tasks = [(b, c) for b, c in pairs if b.task_ok is not None]
    return CategoryComparison(
        category=category, pairs=len(pairs), exact_share=_share([f.exact_match for f in figures]),
        similarity_median=statistics.median(f.similarity for f in figures) if figures else float("nan"),
        length_ratio_median=statistics.median(ratios) if ratios else float("nan"),
        refusal=(_share([b.refused for b, _ in pairs]), _share([c.refused for _, c in pairs])),
        format_valid=(_share([b.format_valid for b, _ in checked]), _share([c.format_valid for _, c in checked]))
        if checked else None,
        repetition=(_share([b.repetitive for b, _ in pairs]), _share([c.repetitive for _, c in pairs])),
        task=(_share([bool(b.task_ok) for b, _ in tasks]), _share([bool(c.task_ok) for _, c in tasks]))
        if tasks else None)
