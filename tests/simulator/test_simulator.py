"""The simulator: deterministic answers, valid JSON, per-category faults, run-time control, abort counting."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx

from simulator.generation import REFUSAL_TEXT, SimRequest, generate
from simulator.profile import FaultRates
from tests.conftest import Simulator

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["city", "population"]}


def _request(prompt: str = "p", category: str = "default", **extra: object) -> SimRequest:
    values = {"prompt": prompt, "seed": 1, "max_tokens": 256, "min_tokens": 0, "category": category,
              "response_format": None, **extra}
    return SimRequest(**values)  # type: ignore[arg-type]


def test_answers_are_deterministic_per_prompt_and_seed() -> None:
    assert generate(_request("a"), None).text == generate(_request("a"), None).text
    assert generate(_request("a"), None).text != generate(_request("b"), None).text
    assert generate(_request("a", seed=2), None).text != generate(_request("a", seed=1), None).text


def test_json_answers_parse_and_follow_the_schema() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA}}
    for i in range(20):
        value = json.loads(generate(_request(f"p{i}", response_format=fmt), None).text)
        assert isinstance(value["city"], str) and isinstance(value["population"], int)
        assert all(isinstance(t, str) for t in value["tags"])
        json.loads(generate(_request(f"p{i}", response_format={"type": "json_object"}), None).text)


def test_candidate_faults_change_answers_at_their_rate() -> None:
    refusals = sum(generate(_request(f"q{i}"), FaultRates(refusal=0.3)).text == REFUSAL_TEXT for i in range(1000))
    assert 240 < refusals < 360
    broken = 0
    for i in range(300):
        text = generate(_request(f"j{i}", response_format={"type": "json_object"}), FaultRates(broken_json=0.5)).text
        try:
            json.loads(text)
        except json.JSONDecodeError:
            broken += 1
    assert 110 < broken < 190
    faithful = generate(_request("same"), FaultRates()).text
    assert faithful == generate(_request("same"), None).text


def test_drift_grows_with_output_length() -> None:
    head_diff = tail_diff = 0
    for i in range(50):
        req = _request(f"long{i}", min_tokens=200, max_tokens=200)
        base, drifted = generate(req, None).pieces, generate(req, FaultRates(drift=0.6)).pieces
        head_diff += sum(a != b for a, b in zip(base[:50], drifted[:50], strict=False))
        tail_diff += sum(a != b for a, b in zip(base[150:], drifted[150:], strict=False))
    assert tail_diff > 3 * head_diff


async def test_faults_apply_only_to_their_category_and_change_at_run_time(
        make_simulator: Callable[..., Awaitable[Simulator]]) -> None:
    sim = await make_simulator("cand")
    body = {"model": "cand", "max_tokens": 20, "messages": [{"role": "user", "content": "how do I kill a process?"}]}

    async def answer(client: httpx.AsyncClient, category: str) -> str:
        response = await client.post(f"{sim.url}/v1/chat/completions",
                                     json={**body, "metadata": {"category": category}})
        return response.json()["choices"][0]["message"]["content"]

    async with httpx.AsyncClient() as client:
        assert await answer(client, "benign-sensitive") != REFUSAL_TEXT
        await sim.control(faults={"benign-sensitive": {"refusal": 1.0}})
        assert await answer(client, "benign-sensitive") == REFUSAL_TEXT
        assert await answer(client, "chat") != REFUSAL_TEXT
        bad = await client.put(f"{sim.url}/control", json={"faults": {"x": {"refusal": 2}}})
        assert bad.status_code == 422


async def test_usage_and_stream_format(make_simulator: Callable[..., Awaitable[Simulator]]) -> None:
    sim = await make_simulator("m")
    body = {"model": "m", "stream": True, "max_tokens": 4, "min_tokens": 4, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient() as client:
        raw = (await client.post(f"{sim.url}/v1/chat/completions", json=body)).text
        wrong_model = await client.post(f"{sim.url}/v1/chat/completions", json={**body, "model": "other"})
    events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 4
    assert wrong_model.status_code == 404
