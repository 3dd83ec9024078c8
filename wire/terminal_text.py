"""Text that people type and later read in a terminal: control characters refused on the way in, escaped on the way out.

An ESC in an audit reason can retitle a window, clear the screen or hide the rows above it; a CR or LF in an actor
makes one audit row read as two; bidirectional overrides make a reason read differently from what it stores.
"""

from __future__ import annotations

import re

# Unicode's Cc category (C0, DEL, C1) and the bidirectional embeddings, overrides and isolates (the "Trojan
# Source" set, CVE-2021-42574).
_CLASS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CLASS}]")
# The same rule as a pattern for schemas (JSON Schema, pydantic-core and Python's re all read these escapes).
NO_CONTROL_PATTERN = f"^[^{_CLASS}]*$"
# ... and for fields that must also hold something other than whitespace (reasons).
NOT_BLANK_NO_CONTROL_PATTERN = f"^[^{_CLASS}]*[^\\s{_CLASS}][^{_CLASS}]*$"


def control_characters_in(text: str) -> list[str]:
    """The distinct control characters in `text`, as escapes a person can read (`\\x1b`, `\\n`)."""
    found = sorted(set(_CONTROL.findall(text)))
    return [_escape(char) for char in found]


def refuse_control_characters(text: object) -> object:
    """`text` unchanged, or ValueError naming the control characters it holds (pydantic turns it into a 422).

    Anything but a string passes through for the type check to refuse: usable before pydantic's own validation,
    so the message names the characters rather than a pattern.
    """
    if not isinstance(text, str):
        return text
    found = control_characters_in(text)
    if found:
        raise ValueError(f"control characters are not allowed ({', '.join(found)}): they would reach a terminal")
    return text


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def escape_controls(text: str) -> str:
    """`text` with every control character shown as its escape, so a terminal prints it instead of obeying it."""
    return _CONTROL.sub(lambda match: _escape(match.group()), text)
