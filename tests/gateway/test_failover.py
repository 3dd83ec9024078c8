"""Failover: the candidate failing before the first byte is retried once on the baseline, never after."""

from __future__ import annotations

import pytest

from tests.conftest import Gateway, GatewayFactory, Simulator, backend, chat_body
from tests.helpers import metric_value, sse_events, stream_text


async def _metrics(gateway: Gateway) -> str:
    async with gateway.client() as client:
        return (await client.get("/metrics")).text


@pytest.mark.parametrize("stream", [False, True])
async def test_candidate_5xx_fails_over_to_baseline(gateway: Gateway, candidate_sim: Simulator, stream: bool) -> None:
    await gateway.set_flags(rollout_percent=100)
    await candidate_sim.control(operational={"error_rate": 1.0})
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=stream))
    assert response.status_code == 200
    assert response.headers["x-quantgate-variant"] == "baseline"
    assert response.headers["x-quantgate-failover"] == "1"
    metrics = await _metrics(gateway)
    assert metric_value(metrics, "quantgate_failovers_total", reason="status_5xx") == 1
    assert metric_value(metrics, "quantgate_requests_total", variant="baseline", status="200") == 1


async def test_unreachable_candidate_fails_over(make_gateway: GatewayFactory, baseline_sim: Simulator) -> None:
    gateway = await make_gateway(candidate=backend("candidate", "http://127.0.0.1:9", "nothing",
                                                   connect_timeout_s=1))
    await gateway.set_flags(rollout_percent=100)
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 200 and stream_text(sse_events(response.text))
    assert response.headers["x-quantgate-variant"] == "baseline"
    assert metric_value(await _metrics(gateway), "quantgate_failovers_total", reason="connect") == 1


async def test_hung_candidate_times_out_and_fails_over(make_gateway: GatewayFactory, candidate_sim: Simulator) -> None:
    gateway = await make_gateway(candidate=backend("candidate", candidate_sim.url, candidate_sim.name,
                                                   read_timeout_s=0.3))
    await gateway.set_flags(rollout_percent=100)
    await candidate_sim.control(operational={"hang": True})
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200 and response.headers["x-quantgate-variant"] == "baseline"
    assert metric_value(await _metrics(gateway), "quantgate_failovers_total", reason="timeout") == 1


async def test_no_retry_after_first_byte(gateway: Gateway, baseline_sim: Simulator, candidate_sim: Simulator) -> None:
    await gateway.set_flags(rollout_percent=100)
    await candidate_sim.control(operational={"break_stream_after_tokens": 3})
    before = (await baseline_sim.stats())["requests"]
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=10, min_tokens=10))
    events = sse_events(response.text)
    assert response.headers["x-quantgate-variant"] == "candidate"
    assert stream_text(events)  # the first tokens did arrive
    assert any(isinstance(e, dict) and "error" in e for e in events)
    assert (await baseline_sim.stats())["requests"] == before
    metrics = await _metrics(gateway)
    assert metric_value(metrics, "quantgate_failovers_total") == 0
    assert metric_value(metrics, "quantgate_upstream_errors_total", reason="mid_stream") == 1


async def test_baseline_failure_is_an_openai_error(gateway: Gateway, baseline_sim: Simulator) -> None:
    await baseline_sim.control(operational={"error_rate": 1.0})
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(), headers={"x-request-id": "r-1"})
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "simulated backend failure"
    assert response.headers["x-request-id"] == "r-1"


async def test_baseline_unreachable_is_502(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(baseline=backend("baseline", "http://127.0.0.1:9", "x", connect_timeout_s=1))
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
