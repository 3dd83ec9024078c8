"""Redaction of stored texts: a hook (str -> str), by default masking emails, phone numbers and API keys."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

Redactor = Callable[[str], str]

_PATTERNS = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[EMAIL]"),
    (re.compile(r"\b(?:sk|pk|rk|xox[abpr]|ghp|gho|glpat|hf)[-_][A-Za-z0-9_\-]{12,}\b"), "[API_KEY]"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "[API_KEY]"),
    (re.compile(r"\b(?:Bearer\s+)[A-Za-z0-9._\-]{16,}"), "Bearer [API_KEY]"),
    (re.compile(r"\b[A-Fa-f0-9]{32,}\b|\b[A-Za-z0-9+/]{40,}={0,2}"), "[SECRET]"),
    (re.compile(r"(?<![\w+])\+?\d[\d\s().-]{7,}\d(?!\w)"), "[PHONE]"),
)


def default_redactor(text: str) -> str:
    """Mask emails, API-key-like strings, long secrets and phone numbers."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def load_redactor(spec: str) -> Redactor:
    """'default', 'none', or an import path 'package.module:function'."""
    if spec == "default":
        return default_redactor
    if spec == "none":
        return lambda text: text
    module_name, sep, attr = spec.partition(":")
    if not sep:
        raise ValueError(f"redaction must be 'default', 'none' or 'module:function', got {spec!r}")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load redaction hook {spec!r}: {exc}") from exc
    if not callable(function):
        raise ValueError(f"redaction hook {spec!r} is not callable")
    return function
