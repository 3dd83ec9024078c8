"""Reassembling an answer from the SSE bytes a client received: text, finish reason, output tokens."""

from __future__ import annotations

import orjson
import pytest

from monitors.quality.answer import parse_body, parse_stream


def _chunk(content: str | None = None, finish: str | None = None, index: int = 0, **extra: object) -> dict:
    delta = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
            **extra}


def _sse(*payloads: object, sep: bytes = b"\n\n") -> bytes:
    return b"".join(b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + sep for p in payloads)


ANSWER = [_chunk(""), _chunk("Hello"), _chunk(", \"world\"\n"), _chunk(finish="stop"),
          {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}, b"[DONE]"]


@pytest.mark.parametrize("raw", [
    _sse(*ANSWER),
    _sse(*ANSWER, sep=b"\r\n\r\n"),
    b": keep-alive\n\n" + _sse(*ANSWER),
    _sse(*ANSWER[:2]) + b"data: {not json\n\n" + _sse(*ANSWER[2:]),
    _sse(*ANSWER[:2]) + b"event: message\ndata: " + orjson.dumps(ANSWER[2]) + b"\n\n" + _sse(*ANSWER[3:]),
], ids=["vllm", "crlf", "comment", "broken-event", "multi-line-event"])
def test_stream_is_reassembled_whatever_its_framing(raw: bytes) -> None:
    assert parse_stream(raw) == ('Hello, "world"\n', "stop", 4)


def test_only_the_first_choice_is_read() -> None:
    raw = _sse(_chunk("a"), _chunk("B", index=1), _chunk("b", finish="length"), _chunk("C", index=1, finish="stop"))
    assert parse_stream(raw) == ("ab", "length", None)


def test_completions_stream_and_an_empty_body() -> None:
    raw = _sse({"choices": [{"index": 0, "text": "4"}]},
               {"choices": [{"index": 0, "text": "2", "finish_reason": "stop"}]})
    assert parse_stream(raw) == ("42", "stop", None)
    assert parse_stream(b"") == ("", None, None)


def test_non_streamed_body() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"completion_tokens": 1}}
    assert parse_body(orjson.dumps(body)) == ("hi", "stop", 1)
    assert parse_body(b"not json") == ("", None, None)
