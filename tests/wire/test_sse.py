"""The SSE tap: whole events only, first-token time, and the usage chunk a client never asked for."""

from __future__ import annotations

import orjson
import pytest

from wire.sse import SseTap


def _event(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return f"data: {data}\n\n".encode()


ROLE = _event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
TOKEN = _event({"choices": [{"index": 0, "delta": {"content": "Hi"}}], "usage": None})
LAST = _event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = _event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
DONE = _event("[DONE]")
STREAM = ROLE + TOKEN + LAST + USAGE + DONE


def _relay(tap: SseTap, chunks: list[bytes]) -> bytes:
    return b"".join(tap.feed(chunk) for chunk in chunks) + tap.flush()


@pytest.mark.parametrize("cut", [1, 7, len(ROLE) + 3, len(ROLE + TOKEN + LAST) + 11, len(STREAM) - 2])
def test_usage_chunk_is_stripped_wherever_the_network_splits_it(cut: int) -> None:
    tap = SseTap(strip_usage=True)
    assert _relay(tap, [STREAM[:cut], STREAM[cut:]]) == ROLE + TOKEN + LAST + DONE
    assert tap.output_tokens() == 2


@pytest.mark.parametrize("cut", [len(ROLE + TOKEN) + 5, len(ROLE + TOKEN + LAST) + 11, len(STREAM) - 2])
def test_fingerprint_on_the_stripped_usage_chunk_goes_back_on_the_terminal_chunk(cut: int) -> None:
    # vLLM moves system_fingerprint off the terminal chunk onto the usage chunk the gateway asked for.
    usage = _event({"choices": [], "usage": {"completion_tokens": 2}, "system_fingerprint": "vllm-0.32.0-ab12"})
    stream = ROLE + TOKEN + LAST + usage + DONE
    tap = SseTap(strip_usage=True)
    relayed = _relay(tap, [stream[:cut], stream[cut:]])
    last = _event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "system_fingerprint": "vllm-0.32.0-ab12"})
    assert relayed == ROLE + TOKEN + last + DONE


def test_usage_chunk_is_kept_when_the_client_asked_for_it() -> None:
    tap = SseTap(strip_usage=False)
    assert _relay(tap, [STREAM]) == STREAM
    assert tap.output_tokens() == 2


def test_only_complete_events_are_forwarded() -> None:
    tap = SseTap(strip_usage=True)
    assert tap.feed(ROLE[:10]) == b""
    assert tap.feed(ROLE[10:] + TOKEN[:5]) == ROLE
    assert tap.first_token_at is None
    assert tap.feed(TOKEN[5:]) == TOKEN
    assert tap.first_token_at is not None


def test_usage_on_a_content_chunk_is_recorded_but_never_stripped() -> None:
    # vLLM's continuous usage stats put usage on every chunk that also carries choices.
    chunk = _event({"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": {"completion_tokens": 1}})
    tap = SseTap(strip_usage=True)
    assert _relay(tap, [chunk + chunk + DONE]) == chunk + chunk + DONE
    assert tap.output_tokens() == 1


@pytest.mark.parametrize(("event", "is_token"), [
    (ROLE, False),
    (_event({"choices": [{"index": 0, "delta": {"content": None}}]}), False),
    (_event({"choices": [{"index": 0, "delta": {"content": "\n"}}]}), True),
    (_event({"choices": [{"index": 0, "text": "Hello"}]}), True),
    (_event({"choices": [{"index": 0, "text": ""}]}), False),
    (_event({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}}]}), True),
    (_event({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]}), True),
    (_event({"choices": [{"index": 0, "delta": {"content": 'say "text":"x"'}}], "x": {"text": ""}}), True),
    (_event({"choices": [], "metadata": {"note": 'a "content": "quoted" word'}}), False),
])
def test_first_token_time_is_set_by_the_first_event_carrying_content(event: bytes, is_token: bool) -> None:
    tap = SseTap(strip_usage=True)
    tap.feed(ROLE + event)
    assert (tap.first_token_at is not None) is is_token
