"""Quality detectors applied to every answer: refusal, format break, degeneration, length."""

from __future__ import annotations

from monitors.quality.detectors.answer import AnswerJudge, AnswerJudgement
from monitors.quality.detectors.refusal import PatternRefusalDetector, RefusalDetector, RefusalVerdict

__all__ = ["AnswerJudge", "AnswerJudgement", "PatternRefusalDetector", "RefusalDetector", "RefusalVerdict"]
