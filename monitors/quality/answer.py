"""A complete answer of one arm, reassembled from an SSE stream or a JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True)
class CapturedAnswer:
    """Text, ending and timings of one arm's answer."""

    variant: str
    text: str
    finish_reason: str | None
    output_tokens: int | None
    ttft_s: float | None
    total_s: float
    complete: bool


def _choice_text(choice: dict[str, Any]) -> str:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return delta.get("content") or ""
    message = choice.get("message")
    if isinstance(message, dict):
        return message.get("content") or ""
    text = choice.get("text")
    return text if isinstance(text, str) else ""


_DONE_TAIL = b",[DONE]"


def _well_formed_events(raw: bytes) -> list[Any] | None:
    """Fast path for the usual `data: {json}\\n\\n` stream: one bytes rewrite into a JSON array, one parse.

    JSON text cannot hold a raw newline, so in a stream of single-line events every newline is
    part of a separator; anything else (comments, CRLF, multi-line data) takes the general path.
    """
    if not raw.startswith(b"data: ") or not raw.endswith(b"\n\n") or b"\r" in raw:
        return None
    body = raw[6:-2].replace(b"\n\ndata: ", b",")
    if b"\n" in body:
        return None
    if body.endswith(_DONE_TAIL):
        body = body[:-len(_DONE_TAIL)]
    try:
        return orjson.loads(b"[" + body + b"]")  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return None


def _stream_events(raw: bytes) -> list[Any]:
    """The JSON payloads of an SSE body's data lines, skipping [DONE] and lines that are not JSON."""
    # This runs for every primary answer the gateway relays.
    events = _well_formed_events(raw)
    if events is not None:
        return events
    data = [payload for line in raw.splitlines()
            if line.startswith(b"data:") and (payload := line[5:].strip()) and payload != b"[DONE]"]
    parsed = []
    for payload in data:
        try:
            parsed.append(orjson.loads(payload))
        except orjson.JSONDecodeError:
            continue
    return parsed


def parse_stream(raw: bytes) -> tuple[str, str | None, int | None]:
    """(text, finish_reason, completion_tokens) of the first choice of an SSE body."""
    parts: list[str] = []
    finish: str | None = None
    tokens: int | None = None
    for event in _stream_events(raw):
        if not isinstance(event, dict):
            continue
        choices = event.get("choices")
        if choices:
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    if text := _choice_text(choice):
                        parts.append(text)
                    finish = choice.get("finish_reason") or finish
        usage = event.get("usage")
        if usage and isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            tokens = usage["completion_tokens"]
    return "".join(parts), finish, tokens


def parse_body(raw: bytes) -> tuple[str, str | None, int | None]:
    """(text, finish_reason, completion_tokens) of a non-streamed response."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", None, None
    if not isinstance(body, dict):
        return "", None, None
    choices = body.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    tokens = usage.get("completion_tokens")
    return _choice_text(first), first.get("finish_reason"), tokens if isinstance(tokens, int) else None


def captured(variant: str, raw: bytes, streamed: bool, ttft_s: float | None, total_s: float, complete: bool,
             usage_tokens: int | None = None) -> CapturedAnswer:
    """Build a CapturedAnswer from the raw bytes the client (or the shadow reader) received."""
    text, finish, tokens = parse_stream(raw) if streamed else parse_body(raw)
    return CapturedAnswer(variant, text, finish, usage_tokens if usage_tokens is not None else tokens,
                          ttft_s, total_s, complete)


def prompt_text(payload: dict[str, Any]) -> str:
    """The prompt as plain text (chat messages joined by role), for stored records."""
    messages = payload.get("messages")
    if isinstance(messages, list):
        lines = []
        for message in messages:
            if isinstance(message, dict):
                content = message.get("content")
                if isinstance(content, list):
                    content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                lines.append(f"{message.get('role', 'user')}: {content or ''}")
        return "\n".join(lines)
    prompt = payload.get("prompt")
    return prompt if isinstance(prompt, str) else orjson.dumps(prompt).decode()
