"""Language mismatch: an answer written in another language than the one asked for.

A quantized small model that answers a French question in English (or drifts into another language half way)
is a quality regression no refusal or format check sees. Identification is py3langid (Lui & Baldwin's
langid.py, naive Bayes over byte n-grams; its model ships in the wheel), restricted to the languages a team
serves so that short texts are not read as one of 97 languages. Only confident identifications of both sides
count: a text too short or too mixed to identify is "not checked", never a mismatch.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from monitors.quality.detectors.settings import DEFAULT_LANGUAGES

# Below this many letters langid's guesses are noise (a number, a name, a code fragment).
MIN_LETTERS = 24
MIN_PROBABILITY = 0.9
_FENCED = re.compile(r"```.*?(?:```|$)", re.S)
_LETTER = re.compile(r"[^\W\d_]", re.U)
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class LanguageCheck:
    """What the language detector concluded about one answer."""

    checked: bool
    expected: str | None
    detected: str | None
    mismatch: bool


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]) -> Any:
    # Imported when first used: the model takes ~0.4 s to load, and most processes never ask.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def _prose(text: str) -> str:
    """The text without fenced code, which is in no natural language."""
    return _FENCED.sub(" ", text)


def identify(text: str, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> str | None:
    """The language of a text when it is long enough and identified with confidence, else None."""
    prose = _prose(text)
    if len(_LETTER.findall(prose)) < MIN_LETTERS:
        return None
    with _lock:  # set_languages mutates the shared model; classify is cheap (~0.1 ms)
        language, probability = _identifier(languages).classify(prose[:4000])
    return str(language) if float(probability) >= MIN_PROBABILITY else None


def check_language(answer: str, expected: str | None, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> LanguageCheck:
    """Compare an answer's language with the expected one (None expected: not checked)."""
    if expected is None:
        return LanguageCheck(False, None, None, False)
    detected = identify(answer, languages)
    if detected is None:
        return LanguageCheck(False, expected, None, False)
    return LanguageCheck(True, expected, detected, detected != expected)
