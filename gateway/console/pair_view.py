"""Two answers side by side: where they first part, and which words differ."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

# Words, runs of whitespace and single punctuation marks: a diff at word level that keeps every character.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text, and whether it differs from the other answer."""

    text: str
    changed: bool


def tokens(text: str) -> list[str]:
    """The text cut into words, whitespace and punctuation (joined back, they are the text)."""
    return _TOKENS.findall(text)


def divergence(baseline: str, candidate: str) -> int | None:
    """The character offset where the two answers first differ (None: identical)."""
    if baseline == candidate:
        return None
    return len(os.path.commonprefix([baseline, candidate]))


def word_diff(baseline: str, candidate: str) -> tuple[list[Segment], list[Segment]]:
    """Each answer as segments, the words the other answer lacks marked changed (difflib's matching blocks)."""
    left, right = tokens(baseline), tokens(candidate)
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    base: list[Segment] = []
    cand: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        same = tag == "equal"
        if i2 > i1:
            base.append(Segment("".join(left[i1:i2]), not same))
        if j2 > j1:
            cand.append(Segment("".join(right[j1:j2]), not same))
    return base, cand
