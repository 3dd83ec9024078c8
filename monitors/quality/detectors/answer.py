"""One judgement per answer: every detector, with the settings that tune them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from monitors.quality.detectors.degeneration import check_degeneration
from monitors.quality.detectors.format import check_format
from monitors.quality.detectors.language import check_language
from monitors.quality.detectors.refusal import PatternRefusalDetector, RefusalDetector
from monitors.quality.detectors.settings import DetectorSettings

__all__ = ["AnswerJudge", "AnswerJudgement", "DetectorSettings"]  # the settings handed on with the judge


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
    # Expected language known and both sides identified with confidence; then whether the answer's differs.
    language_checked: bool = False
    language_mismatch: bool = False
    answer_language: str | None = None
    # Nothing but whitespace: no detector above fires on it, and a median length test lets up to half through.
    empty: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


class AnswerJudge:
    """Applies refusal, format, degeneration and length detectors to an answer."""

    def __init__(self, settings: DetectorSettings, refusal: RefusalDetector | None = None) -> None:
        self.settings = settings
        self.refusal = refusal or PatternRefusalDetector(settings.extra_refusal_rules, settings.refusal_window_chars)
        self._structured = frozenset(settings.structured_categories)
        self._languages = tuple(settings.languages)

    def judge(self, text: str, finish_reason: str | None, output_tokens: int | None,
              response_format: dict[str, Any] | None, category: str,
              expected_language: str | None = None) -> AnswerJudgement:
        """Judge one complete answer; `expected_language` (the prompt's, or an evaluation item's) enables the
        language check, which structured categories (JSON, code) skip."""
        refusal = self.refusal.detect(text)
        fmt = check_format(text, response_format, category in self._structured)
        s = self.settings
        structured = category in self._structured or fmt.checked
        language = check_language(text, None if structured else expected_language, self._languages)
        degeneration = check_degeneration(text, finish_reason, ngram=s.repetition_ngram,
                                          tail_tokens=s.repetition_tail_tokens, threshold=s.repetition_threshold)
        return AnswerJudgement(
            refused=refusal.refused, refusal_rule=refusal.rule,
            # A refusal is not also counted as a format break: the flip is already a refusal flip.
            format_checked=fmt.checked, format_broken=fmt.broken and not refusal.refused, format_reason=fmt.reason,
            repeated_ngram_ratio=degeneration.repeated_ngram_ratio, repetitive=degeneration.repetitive,
            truncated=degeneration.truncated, output_tokens=output_tokens, output_chars=len(text),
            language_checked=language.checked, answer_language=language.detected,
            # A refusal in another language is already a refusal flip; it is not also a language flip.
            language_mismatch=language.mismatch and not refusal.refused,
            empty=not text.strip(),
        )
