"""Degeneration: repetition loops over the tail of an answer, and truncation at the token limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class DegenerationVerdict:
    """Repeated n-gram ratio over the tail, whether that counts as a loop, and truncation."""

    repeated_ngram_ratio: float
    repetitive: bool
    truncated: bool


def repeated_ngram_ratio(tokens: list[str], n: int) -> float:
    """Share of n-grams in `tokens` that already occurred earlier in it (0 for short input)."""
    total = len(tokens) - n + 1
    if total <= 1:
        return 0.0
    distinct = len(set(zip(*(tokens[i:] for i in range(n)), strict=False)))
    return (total - distinct) / total


def check_degeneration(text: str, finish_reason: str | None, *, ngram: int = 4, tail_tokens: int = 200,
                       threshold: float = 0.5, min_tokens: int = 24) -> DegenerationVerdict:
    """Loops are judged on the last `tail_tokens` words, where a degenerating model ends up."""
    words = text.split()[-tail_tokens:]
    ratio = repeated_ngram_ratio(words, ngram) if len(words) >= min_tokens else 0.0
    return DegenerationVerdict(round(ratio, 4), ratio >= threshold, finish_reason == "length")
