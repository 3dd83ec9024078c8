"""The read timeout bounds each wait for backend data, not the length of the answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulator.profile import LatencyProfile
from tests.conftest import Gateway, GatewayFactory, Simulator, backend, chat_body
from tests.helpers import metric_value, sse_events, stream_text

READ_TIMEOUT_S = 0.3


@pytest.fixture
async def impatient_gateway(make_gateway: GatewayFactory, baseline_sim: Simulator) -> Gateway:
    """A gateway that gives the baseline 0.3 s per wait for data."""
    return await make_gateway(baseline=backend("baseline", baseline_sim.url, baseline_sim.name,
                                               read_timeout_s=READ_TIMEOUT_S))


async def _stream(gateway: Gateway, sim: Simulator, ttft_ms: float, itl_ms: float,
                  tokens: int) -> tuple[httpx.Response, list[Any], list[dict]]:
    await sim.control(latency=LatencyProfile(ttft_ms=ttft_ms, ttft_sigma=0, itl_ms=itl_ms, itl_sigma=0).model_dump())
    async with gateway.client() as client:
        body = chat_body(stream=True, max_tokens=tokens, min_tokens=tokens)
        response = await client.post("/v1/chat/completions", json=body)
    events = sse_events(response.text)
    return response, events, [e["error"] for e in events if isinstance(e, dict) and "error" in e]


async def test_backend_stalling_mid_stream_is_cut_and_reported(impatient_gateway: Gateway,
                                                               baseline_sim: Simulator) -> None:
    response, events, errors = await _stream(impatient_gateway, baseline_sim, ttft_ms=10, itl_ms=1500, tokens=4)
    assert response.status_code == 200 and stream_text(events)
    assert len(errors) == 1 and "stalled" in errors[0]["message"]
    async with impatient_gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_upstream_errors_total", reason="mid_stream") == 1
    # The gateway dropped the connection: the backend saw its client go away instead of finishing.
    stats = await baseline_sim.wait_for_aborts(1)
    assert stats["aborted"] == 1 and stats["completed"] == 0


async def test_slow_steady_stream_longer_than_the_timeout_completes(impatient_gateway: Gateway,
                                                                    baseline_sim: Simulator) -> None:
    # Nine waits of 0.1 s: the answer takes three times the timeout, no single wait comes near it.
    response, events, errors = await _stream(impatient_gateway, baseline_sim, ttft_ms=100, itl_ms=100, tokens=8)
    assert response.status_code == 200 and not errors
    assert stream_text(events) and events[-1] == "[DONE]"


async def test_backend_silent_before_headers_times_out_as_504(impatient_gateway: Gateway,
                                                              baseline_sim: Simulator) -> None:
    await baseline_sim.control(operational={"hang": True})
    async with impatient_gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 504
    assert "timed out" in response.json()["error"]["message"]
