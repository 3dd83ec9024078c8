"""One judgement per answer: every detector, with the settings that tune them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, Field

from monitors.detectors.degeneration import check_degeneration
from monitors.detectors.format import check_format
from monitors.detectors.refusal import PatternRefusalDetector, RefusalDetector


class DetectorSettings(BaseModel):
    """Tuning of the quality detectors."""

    structured_categories: list[str] = Field(default_factory=lambda: ["json", "code"])
    extra_refusal_rules: dict[str, str] = Field(default_factory=dict)
    refusal_window_chars: int = Field(default=300, ge=20)
    repetition_ngram: int = Field(default=4, ge=1, le=16)
    repetition_tail_tokens: int = Field(default=200, ge=10)
    repetition_threshold: float = Field(default=0.5, gt=0, le=1)


@dataclass(slots=True)
class AnswerJudgement:
    """Everything the detectors say about one answer."""

    refused: bool
    refusal_rule: str | None
    format_checked: bool
    format_broken: bool
    format_reason: str | None
    repeated_ngram_ratio: float
    repetitive: bool
    truncated: bool
    output_tokens: int | None
    output_chars: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


class AnswerJudge:
    """Applies refusal, format, degeneration and length detectors to an answer."""

    def __init__(self, settings: DetectorSettings, refusal: RefusalDetector | None = None) -> None:
        self.settings = settings
        self.refusal = refusal or PatternRefusalDetector(settings.extra_refusal_rules, settings.refusal_window_chars)
        self._structured = frozenset(settings.structured_categories)

    def judge(self, text: str, finish_reason: str | None, output_tokens: int | None,
              response_format: dict[str, Any] | None, category: str) -> AnswerJudgement:
        """Judge one complete answer."""
        refusal = self.refusal.detect(text)
        fmt = check_format(text, response_format, category in self._structured)
        s = self.settings
        degeneration = check_degeneration(text, finish_reason, ngram=s.repetition_ngram,
                                          tail_tokens=s.repetition_tail_tokens, threshold=s.repetition_threshold)
        return AnswerJudgement(
            refused=refusal.refused, refusal_rule=refusal.rule,
            # A refusal is not also counted as a format break: the flip is already a refusal flip.
            format_checked=fmt.checked, format_broken=fmt.broken and not refusal.refused, format_reason=fmt.reason,
            repeated_ngram_ratio=degeneration.repeated_ngram_ratio, repetitive=degeneration.repetitive,
            truncated=degeneration.truncated, output_tokens=output_tokens, output_chars=len(text),
        )
