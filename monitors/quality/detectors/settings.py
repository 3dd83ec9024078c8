"""How the detectors are tuned: read by the gateway's settings, which must not load the detectors to do so."""

from __future__ import annotations

from pydantic import BaseModel, Field

# Languages the language-mismatch detector chooses among by default (ISO 639-1).
DEFAULT_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")


class DetectorSettings(BaseModel):
    """Tuning of the quality detectors."""

    structured_categories: list[str] = Field(default_factory=lambda: ["json", "code"])
    extra_refusal_rules: dict[str, str] = Field(default_factory=dict)
    refusal_window_chars: int = Field(default=300, ge=20)
    repetition_ngram: int = Field(default=4, ge=1, le=16)
    repetition_tail_tokens: int = Field(default=200, ge=10)
    repetition_threshold: float = Field(default=0.5, gt=0, le=1)
    # Languages the language-mismatch detector chooses among (ISO 639-1; the fewer, the surer on short texts).
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES), min_length=1, max_length=97)
