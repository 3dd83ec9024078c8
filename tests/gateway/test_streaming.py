"""Pass-through streaming: no buffering, same content as a direct call, usage handling, headers."""

from __future__ import annotations

import time

import httpx

from simulator.profile import LatencyProfile
from tests.conftest import Gateway, Simulator, chat_body
from tests.helpers import finish_reasons, metric_value, sse_events, stream_text


async def test_chunks_reach_client_while_upstream_still_generating(gateway: Gateway, baseline_sim: Simulator) -> None:
    await baseline_sim.control(latency=LatencyProfile(ttft_ms=20, ttft_sigma=0, itl_ms=150, itl_sigma=0).model_dump())
    arrivals: list[float] = []
    async with gateway.client() as client:
        started = time.perf_counter()
        body = chat_body(stream=True, max_tokens=8, min_tokens=8)
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                if b'"content":"' in chunk.replace(b'"content":""', b""):
                    arrivals.append(time.perf_counter() - started)
    # 8 tokens 150 ms apart: a buffering proxy would deliver them all at once after ~1.05 s.
    assert len(arrivals) >= 6
    assert arrivals[0] < 0.5
    assert arrivals[-1] - arrivals[0] > 0.6


async def _direct_and_proxied(gateway: Gateway, sim: Simulator, path: str,
                              body: dict) -> tuple[httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as direct_client, gateway.client() as client:
        direct = await direct_client.post(f"{sim.url}{path}", json={**body, "model": sim.name})
        proxied = await client.post(path, json=body)
    return direct, proxied


async def test_stream_content_matches_direct_call(gateway: Gateway, baseline_sim: Simulator) -> None:
    body = chat_body("compare me", stream=True, seed=7, max_tokens=40, stream_options={"include_usage": True})
    direct, proxied = await _direct_and_proxied(gateway, baseline_sim, "/v1/chat/completions", body)
    direct_events, proxied_events = sse_events(direct.text), sse_events(proxied.text)
    assert stream_text(proxied_events) == stream_text(direct_events) != ""
    assert finish_reasons(proxied_events) == finish_reasons(direct_events)
    assert proxied_events[-2]["usage"] == direct_events[-2]["usage"]
    assert proxied_events[-1] == "[DONE]"


async def test_non_streamed_and_completions_match_direct_call(gateway: Gateway, baseline_sim: Simulator) -> None:
    body = chat_body("plain answer", seed=3, max_tokens=30)
    direct, proxied = await _direct_and_proxied(gateway, baseline_sim, "/v1/chat/completions", body)
    assert proxied.status_code == 200
    assert proxied.json()["choices"] == direct.json()["choices"]
    assert proxied.json()["usage"] == direct.json()["usage"]
    completion = {"model": "quantgate", "prompt": "Once upon a time", "max_tokens": 12, "stream": True}
    direct, proxied = await _direct_and_proxied(gateway, baseline_sim, "/v1/completions", completion)
    assert stream_text(sse_events(proxied.text)) == stream_text(sse_events(direct.text)) != ""


async def test_usage_chunk_stripped_when_client_did_not_ask(gateway: Gateway) -> None:
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=5, min_tokens=5))
        metrics = (await client.get("/metrics")).text
    events = sse_events(response.text)
    assert not any(isinstance(e, dict) and e.get("usage") for e in events)
    assert events[-1] == "[DONE]"
    # The gateway still learned the token count: it asked the backend for usage itself.
    assert metric_value(metrics, "quantgate_output_tokens_sum", variant="baseline") == 5
    assert metric_value(metrics, "quantgate_time_to_first_token_seconds_count", variant="baseline") == 1


async def test_stream_headers_and_request_id(gateway: Gateway) -> None:
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True),
                                     headers={"x-request-id": "req-abc-123"})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-quantgate-variant"] == "baseline"
    assert response.headers["x-request-id"] == "req-abc-123"


async def test_bad_requests_get_openai_errors(gateway: Gateway) -> None:
    async with gateway.client() as client:
        not_json = await client.post("/v1/chat/completions", content=b"{not json")
        wrong_model = await client.post("/v1/chat/completions", json=chat_body(model="gpt-9"))
        bad_stream = await client.post("/v1/chat/completions", json=chat_body(stream="yes"))
        unknown = await client.get("/v1/nothing-here")
        get_on_post = await client.get("/v1/chat/completions")
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    assert wrong_model.status_code == 404 and wrong_model.json()["error"]["code"] == 404
    assert bad_stream.status_code == 400 and bad_stream.json()["error"]["param"] == "stream"
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert get_on_post.status_code == 405 and "error" in get_on_post.json()


async def test_models_health_and_readiness(gateway: Gateway) -> None:
    async with gateway.client() as client:
        models = (await client.get("/v1/models")).json()
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert [m["id"] for m in models["data"]] == ["quantgate"]
    assert health.status_code == 200
    assert ready.status_code == 200 and ready.json()["baseline_reachable"] and ready.json()["flags_loaded"]
