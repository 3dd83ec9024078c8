"""The read timeout bounds each wait for backend data, not the length of the answer."""

from __future__ import annotations

import asyncio

from simulator.profile import LatencyProfile
from tests.conftest import GatewayFactory, Simulator, backend, chat_body
from tests.helpers import metric_value, sse_events, stream_text


def _latency(ttft_ms: float, itl_ms: float) -> dict[str, float]:
    return LatencyProfile(ttft_ms=ttft_ms, ttft_sigma=0, itl_ms=itl_ms, itl_sigma=0).model_dump()


async def test_backend_stalling_mid_stream_is_cut_and_reported(make_gateway: GatewayFactory,
                                                               baseline_sim: Simulator) -> None:
    gateway = await make_gateway(baseline=backend("baseline", baseline_sim.url, baseline_sim.name, read_timeout_s=0.3))
    await baseline_sim.control(latency=_latency(ttft_ms=10, itl_ms=1500))
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=4, min_tokens=4))
        metrics = (await client.get("/metrics")).text
    events = sse_events(response.text)
    assert response.status_code == 200
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and "stalled" in errors[0]["message"]
    assert metric_value(metrics, "quantgate_upstream_errors_total", reason="mid_stream") == 1
    # The gateway dropped the connection: the backend saw its client go away instead of finishing.
    for _ in range(100):
        if (await baseline_sim.stats())["aborted"] >= 1:
            break
        await asyncio.sleep(0.05)
    stats = await baseline_sim.stats()
    assert stats["aborted"] == 1 and stats["completed"] == 0


async def test_slow_steady_stream_longer_than_the_timeout_completes(make_gateway: GatewayFactory,
                                                                    baseline_sim: Simulator) -> None:
    gateway = await make_gateway(baseline=backend("baseline", baseline_sim.url, baseline_sim.name, read_timeout_s=0.3))
    await baseline_sim.control(latency=_latency(ttft_ms=100, itl_ms=100))
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=8, min_tokens=8))
    events = sse_events(response.text)
    assert response.status_code == 200
    assert not [e for e in events if isinstance(e, dict) and "error" in e]
    assert len(stream_text(events).split()) >= 1 and events[-1] == "[DONE]"


async def test_backend_silent_before_headers_times_out_as_504(make_gateway: GatewayFactory,
                                                              baseline_sim: Simulator) -> None:
    gateway = await make_gateway(baseline=backend("baseline", baseline_sim.url, baseline_sim.name, read_timeout_s=0.3))
    await baseline_sim.control(operational={"hang": True})
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 504
    assert "timed out" in response.json()["error"]["message"]
