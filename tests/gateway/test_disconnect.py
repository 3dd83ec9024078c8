"""A client that goes away closes the upstream request: mid-stream, before the first token, non-streamed."""

from __future__ import annotations

import asyncio

import httpx

from simulator.profile import LatencyProfile
from tests.conftest import Gateway, Simulator, chat_body


async def test_disconnect_mid_stream_aborts_upstream(gateway: Gateway, baseline_sim: Simulator) -> None:
    await baseline_sim.control(latency=LatencyProfile(ttft_ms=5, ttft_sigma=0, itl_ms=200, itl_sigma=0).model_dump())
    async with gateway.client() as client:
        async with client.stream("POST", "/v1/chat/completions",
                                 json=chat_body(stream=True, max_tokens=50, min_tokens=50)) as response:
            async for chunk in response.aiter_raw():
                if b'"content":"' in chunk.replace(b'"content":""', b""):
                    break
    stats = await baseline_sim.wait_for_aborts(1)
    assert stats["aborted"] == 1 and stats["completed"] == 0 and stats["in_flight"] == 0


async def test_disconnect_before_first_token_aborts_upstream(gateway: Gateway, baseline_sim: Simulator) -> None:
    await baseline_sim.control(latency=LatencyProfile(ttft_ms=3000, ttft_sigma=0, itl_ms=5).model_dump())
    async with gateway.client() as client:
        task = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body(stream=True)))
        for _ in range(100):
            if (await baseline_sim.stats())["in_flight"] == 1:
                break
            await asyncio.sleep(0.02)
        task.cancel()
    stats = await baseline_sim.wait_for_aborts(1)
    assert stats["aborted"] == 1 and stats["completed"] == 0


async def test_disconnect_during_non_streamed_request_aborts_upstream(gateway: Gateway,
                                                                      baseline_sim: Simulator) -> None:
    await baseline_sim.control(latency=LatencyProfile(ttft_ms=3000, ttft_sigma=0, itl_ms=5).model_dump())
    try:
        async with gateway.client(timeout=httpx.Timeout(0.5)) as client:
            await client.post("/v1/chat/completions", json=chat_body())
    except httpx.ReadTimeout:
        pass
    stats = await baseline_sim.wait_for_aborts(1)
    assert stats["aborted"] == 1 and stats["completed"] == 0


async def test_gateway_records_client_disconnect(gateway: Gateway, baseline_sim: Simulator) -> None:
    await test_disconnect_during_non_streamed_request_aborts_upstream(gateway, baseline_sim)
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert 'status="499"' in metrics


def _watchers() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "DisconnectWatch._watch"]


async def test_finished_requests_leave_no_watcher_behind(gateway: Gateway, baseline_sim: Simulator) -> None:
    # The watcher ends when the server answers its receive() after the response; none may pile up.
    async with gateway.client() as client:
        for stream in (True, False) * 10:
            assert (await client.post("/v1/chat/completions", json=chat_body(stream=stream))).status_code == 200
        assert (await client.post("/v1/chat/completions", content=b"{not json")).status_code == 400
    for _ in range(50):
        if not _watchers():
            break
        await asyncio.sleep(0.02)
    assert _watchers() == []
    assert (await baseline_sim.stats())["aborted"] == 0
