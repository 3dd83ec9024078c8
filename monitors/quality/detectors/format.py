"""Format breaks: JSON that was asked for and does not parse or validate; broken fenced blocks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema

_FENCE = re.compile(r"^\s*```([\w+-]*)\s*$", re.MULTILINE)


@dataclass(slots=True)
class FormatVerdict:
    """Whether the answer's format is broken, and why (None when no format was expected)."""

    checked: bool
    broken: bool
    reason: str | None = None


def _strip_code_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_json(text: str, response_format: dict[str, Any]) -> FormatVerdict:
    """JSON mode: the answer must parse; with json_schema it must also validate."""
    try:
        value = json.loads(_strip_code_fence(text))
    except json.JSONDecodeError as exc:
        return FormatVerdict(True, True, f"invalid JSON: {exc.msg} at char {exc.pos}")
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            try:
                error = jsonschema.exceptions.best_match(
                    _validator(json.dumps(schema, sort_keys=True)).iter_errors(value))
            except jsonschema.exceptions.SchemaError:
                return FormatVerdict(True, False, "schema itself is invalid; only parsing was checked")
            if error is not None:
                return FormatVerdict(True, True, f"schema violation: {error.message[:200]}")
    elif not isinstance(value, (dict, list)):
        return FormatVerdict(True, True, "JSON mode answer is not an object or array")
    return FormatVerdict(True, False)


def check_fences(text: str) -> FormatVerdict:
    """Structured categories: every ``` fence is closed, and ```json blocks parse."""
    fences = list(_FENCE.finditer(text))
    if len(fences) % 2:
        return FormatVerdict(True, True, "unclosed fenced block")
    for opening, closing in zip(fences[::2], fences[1::2], strict=False):
        if opening.group(1).lower() == "json":
            body = text[opening.end():closing.start()]
            try:
                json.loads(body)
            except json.JSONDecodeError as exc:
                return FormatVerdict(True, True, f"fenced JSON does not parse: {exc.msg}")
    return FormatVerdict(True, False)


def check_format(text: str, response_format: dict[str, Any] | None, structured: bool) -> FormatVerdict:
    """The format verdict for one answer."""
    if response_format and response_format.get("type") in ("json_object", "json_schema"):
        return check_json(text, response_format)
    if structured:
        return check_fences(text)
    return FormatVerdict(False, False)
