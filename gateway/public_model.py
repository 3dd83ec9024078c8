"""Answers name the model the client asked for, never the backend's served name.

A served name such as `llama-8b-w4a16` in the response tells every user which arm answered and breaks
clients that check the name they sent. The rewrite is a byte substitution of the exact `"model":"<served>"`
member (as vLLM and the simulator write it, with or without a space), applied to whole SSE events and whole
bodies: no JSON parse per chunk.
"""

from __future__ import annotations

import orjson

from flags.model import Variant
from gateway.settings import GatewaySettings


def _members(name: str) -> tuple[bytes, bytes]:
    quoted = orjson.dumps(name)
    return b'"model":' + quoted, b'"model": ' + quoted


class PublicModelName:
    """Per variant, the served-name members to replace and their public replacement."""

    __slots__ = ("_rules",)

    def __init__(self, settings: GatewaySettings) -> None:
        compact, spaced = _members(settings.public_model_name)
        self._rules: dict[Variant, tuple[tuple[bytes, bytes], tuple[bytes, bytes]]] = {}
        for variant, backend in ((Variant.BASELINE, settings.baseline), (Variant.CANDIDATE, settings.candidate)):
            served_compact, served_spaced = _members(backend.served_model_name)
            self._rules[variant] = ((served_compact, compact), (served_spaced, spaced))

    def rewrite(self, variant: Variant, data: bytes) -> bytes:
        """`data` with the variant's served model name replaced by the public one."""
        for served, public in self._rules[variant]:
            if served in data:
                data = data.replace(served, public)
        return data
