"""Paired comparison of the baseline's and the candidate's answers to the same request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudgement

CANDIDATE_WORSE = "candidate_worse"
CANDIDATE_BETTER = "candidate_better"


@dataclass(frozen=True, slots=True)
class PairFigures:
    """Text and length figures of one pair."""

    exact_match: bool
    similarity: float
    similarity_head: float
    similarity_tail: float | None
    first_divergence: float | None
    length_ratio: float | None


@dataclass(frozen=True, slots=True)
class ShadowComparison:
    """Everything known about one shadow pair; stored and turned into metrics."""

    request_id: str
    category: str
    primary_variant: str
    baseline: CapturedAnswer
    candidate: CapturedAnswer
    baseline_judgement: AnswerJudgement
    candidate_judgement: AnswerJudgement
    figures: PairFigures
    refusal_flip: str | None
    format_flip: str | None
    repetition_flip: str | None
    language_flip: str | None = None

    @property
    def any_flip(self) -> bool:
        """True when any detector disagrees between the arms."""
        return any((self.refusal_flip, self.format_flip, self.repetition_flip, self.language_flip))

    def summary(self) -> dict[str, Any]:
        """The figures as a flat dict."""
        f = self.figures
        return {"exact_match": f.exact_match, "similarity": f.similarity, "similarity_head": f.similarity_head,
                "similarity_tail": f.similarity_tail, "first_divergence": f.first_divergence,
                "length_ratio": f.length_ratio, "refusal_flip": self.refusal_flip, "format_flip": self.format_flip,
                "repetition_flip": self.repetition_flip, "language_flip": self.language_flip}


def _similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return round(fuzz.ratio(a, b) / 100.0, 4)


def _first_divergence(baseline: str, candidate: str) -> float | None:
    if baseline == candidate:
        return None
    prefix = len(os.path.commonprefix([baseline, candidate]))
    return round(prefix / max(1, len(baseline)), 4)


def _length_ratio(baseline: CapturedAnswer, candidate: CapturedAnswer) -> float | None:
    if baseline.output_tokens and candidate.output_tokens is not None:
        return round(candidate.output_tokens / baseline.output_tokens, 4)
    if baseline.text:
        return round(len(candidate.text) / len(baseline.text), 4)
    return None


def pair_figures(baseline: CapturedAnswer, candidate: CapturedAnswer, segment_words: int) -> PairFigures:
    """Similarity overall and per segment (head = first `segment_words` words), divergence, length ratio."""
    base_norm, cand_norm = default_process(baseline.text), default_process(candidate.text)
    base_words, cand_words = base_norm.split(), cand_norm.split()
    head = _similarity(" ".join(base_words[:segment_words]), " ".join(cand_words[:segment_words]))
    tail_base, tail_cand = base_words[segment_words:], cand_words[segment_words:]
    tail = _similarity(" ".join(tail_base), " ".join(tail_cand)) if tail_base or tail_cand else None
    return PairFigures(
        exact_match=baseline.text == candidate.text,
        similarity=_similarity(base_norm, cand_norm),
        similarity_head=head,
        similarity_tail=tail,
        first_divergence=_first_divergence(base_norm, cand_norm),
        length_ratio=_length_ratio(baseline, candidate),
    )


def _flip(baseline_flag: bool, candidate_flag: bool) -> str | None:
    if baseline_flag == candidate_flag:
        return None
    return CANDIDATE_WORSE if candidate_flag else CANDIDATE_BETTER


def compare(request_id: str, category: str, primary_variant: str, baseline: CapturedAnswer,
            candidate: CapturedAnswer, baseline_judgement: AnswerJudgement, candidate_judgement: AnswerJudgement,
            segment_words: int = 256) -> ShadowComparison:
    """Pair two judged answers; a flip is named by which arm got worse."""
    return ShadowComparison(
        request_id=request_id, category=category, primary_variant=primary_variant,
        baseline=baseline, candidate=candidate,
        baseline_judgement=baseline_judgement, candidate_judgement=candidate_judgement,
        figures=pair_figures(baseline, candidate, segment_words),
        refusal_flip=_flip(baseline_judgement.refused, candidate_judgement.refused),
        format_flip=_flip(baseline_judgement.format_broken, candidate_judgement.format_broken),
        repetition_flip=_flip(baseline_judgement.repetitive, candidate_judgement.repetitive),
        language_flip=_flip(baseline_judgement.language_mismatch, candidate_judgement.language_mismatch),
    )
