"""Watches an upstream SSE stream as it passes through: first content token, usage, usage-chunk stripping."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
_TERMINAL = re.compile(rb'"finish_reason"\s*:\s*"')
# Where a content token may start: a non-empty text/content string or a tool call. Only events that match
# are parsed, so the role chunk and keep-alives cost a regex scan, not a JSON parse.
_MAYBE_CONTENT = re.compile(rb'"(?:text|content|reasoning_content)"\s*:\s*"(?!")|"tool_calls"\s*:\s*\[\s*\{')


def _event_boundary(buffer: bytes) -> int:
    """Index just past the last complete SSE event in buffer, or -1."""
    cut = buffer.rfind(b"\n\n")
    if cut >= 0:
        return cut + 2
    cut = buffer.rfind(b"\r\n\r\n")
    return cut + 4 if cut >= 0 else -1


def _event_around(buffer: bytes, first: int, last: int) -> tuple[int, int]:
    """(start, end) of the SSE event holding buffer[first:last], end past its blank line."""
    start = buffer.rfind(b"\n\n", 0, first)
    end = buffer.find(b"\n\n", last)
    return (0 if start < 0 else start + 2), (len(buffer) if end < 0 else end + 2)


def _event_data(event: bytes) -> Any | None:
    """The JSON payload of one SSE event, or None for [DONE], comments and non-JSON data."""
    for line in event.splitlines():
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if not data or data == b"[DONE]":
                return None
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                return None
    return None


def _stamp_fingerprint(events: bytes, fingerprint: str) -> bytes:
    """Put system_fingerprint on every terminal event that lacks one, leaving their other bytes as they were."""
    field = b',"system_fingerprint":' + orjson.dumps(fingerprint) + b"}"
    pos = 0
    while (match := _TERMINAL.search(events, pos)) is not None:
        start, end = _event_around(events, match.start(), match.end())
        close = events.rfind(b"}", start, end)
        if b'"system_fingerprint"' in events[start:end] or close < 0:
            pos = end
            continue
        events = events[:close] + field + events[close + 1:]
        pos = end + len(field) - 1
    return events


def _has_content(payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    for choice in payload.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        if choice.get("text"):
            return True
        delta = choice.get("delta")
        if isinstance(delta, dict) and (delta.get("content") or delta.get("reasoning_content")
                                        or delta.get("tool_calls")):
            return True
    return False


class SseTap:
    """Forwards whole SSE events as soon as their bytes arrive; never holds more than one partial event.

    Parsing stops once the first content token was seen; after that only events that may carry
    a usage object are parsed, so the per-chunk cost stays a substring search.
    """

    __slots__ = ("strip_usage", "first_token_at", "usage", "_pending", "_held", "_fingerprint")

    def __init__(self, strip_usage: bool) -> None:
        self.strip_usage = strip_usage
        self.first_token_at: float | None = None
        self.usage: dict[str, Any] | None = None
        self._pending = b""
        # vLLM moves system_fingerprint from the terminal chunk onto the usage chunk when include_usage is on:
        # the terminal events wait (a few microseconds, same engine step) so the fingerprint can go back on them.
        self._held: bytes | None = None
        self._fingerprint: str | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Bytes to forward now for this network chunk (complete events only)."""
        buffer = self._pending + chunk if self._pending else chunk
        cut = _event_boundary(buffer)
        if cut < 0:
            self._pending = buffer
            return b""
        out, self._pending = (buffer, b"") if cut == len(buffer) else (buffer[:cut], buffer[cut:])
        if self.first_token_at is None:
            self._look_for_first_token(out)
        if self.strip_usage:
            return self._hold_terminal(out)
        return self._take_usage(out) if b'"usage"' in out else out

    def flush(self) -> bytes:
        """Whatever is left when the upstream ends: held terminal events, then any partial event."""
        out, self._pending = self._pending, b""
        return self.release() + out

    def release(self) -> bytes:
        """The terminal events held back, the fingerprint restored and the usage-only event cut."""
        held, self._held = self._held, None
        if not held:
            return b""
        if b'"usage"' in held:
            held = self._take_usage(held)
        return _stamp_fingerprint(held, self._fingerprint) if self._fingerprint else held

    def _hold_terminal(self, out: bytes) -> bytes:
        if self._held is None:
            match = _TERMINAL.search(out)
            if match is None:
                return self._take_usage(out) if b'"usage"' in out else out
            start, _ = _event_around(out, match.start(), match.end())
            out, self._held = out[:start], out[start:]
        else:
            out, self._held = b"", self._held + out
        if b"[DONE]" in self._held:
            out += self.release()
        return out

    def _look_for_first_token(self, out: bytes) -> None:
        pos = 0
        while (match := _MAYBE_CONTENT.search(out, pos)) is not None:
            start, end = _event_around(out, match.start(), match.end())
            if _has_content(_event_data(out[start:end])):
                self.first_token_at = time.perf_counter()
                return
            pos = end

    def _take_usage(self, out: bytes) -> bytes:
        """Record the usage object; cut the usage-only event vLLM adds for include_usage if the client never asked."""
        pos = 0
        while (match := _USAGE_OBJECT.search(out, pos)) is not None:
            start, end = _event_around(out, match.start(), match.end())
            payload = _event_data(out[start:end])
            if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
                self.usage = payload["usage"]
                if self.strip_usage and not payload.get("choices"):
                    fingerprint = payload.get("system_fingerprint")
                    self._fingerprint = fingerprint if isinstance(fingerprint, str) else self._fingerprint
                    out = out[:start] + out[end:]
                    pos = start
                    continue
            pos = end
        return out

    def output_tokens(self) -> int | None:
        """completion_tokens from the usage the backend reported."""
        if self.usage is None:
            return None
        tokens = self.usage.get("completion_tokens")
        return tokens if isinstance(tokens, int) else None
