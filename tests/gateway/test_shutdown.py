"""SIGTERM with live streams: short answers finish, answers longer than the drain time end with an in-band error."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.demo.stack import LocalProcess, LocalStack, free_port, gateway_env, quantgate_argv
from simulator.profile import LatencyProfile
from tests.conftest import ADMIN_TOKEN, Simulator, chat_body

DRAIN_S = 1.5


@pytest.fixture
async def slow_sim(make_simulator: Callable[..., Awaitable[Simulator]]) -> Simulator:
    return await make_simulator("baseline", latency=LatencyProfile(ttft_ms=5, ttft_sigma=0, itl_ms=25, itl_sigma=0))


@pytest.fixture
async def served_gateway(tmp_path: Path, slow_sim: Simulator,
                         candidate_sim: Simulator) -> AsyncIterator[tuple[LocalProcess, str]]:
    port = free_port()
    stack = LocalStack(tmp_path)
    env = gateway_env(tmp_path / "flags.db", 0, 0, token=ADMIN_TOKEN, validation_gate=False)
    env.update({"QUANTGATE_BASELINE__BASE_URL": slow_sim.url, "QUANTGATE_BASELINE__SERVED_MODEL_NAME": slow_sim.name,
                "QUANTGATE_CANDIDATE__BASE_URL": candidate_sim.url,
                "QUANTGATE_CANDIDATE__SERVED_MODEL_NAME": candidate_sim.name,
                "QUANTGATE_DRAIN_TIMEOUT_S": str(DRAIN_S)})
    proc = stack.start("gateway", quantgate_argv("serve", "--port", str(port)), env)
    try:
        await asyncio.to_thread(proc.wait_ready, f"http://127.0.0.1:{port}/readyz", 60)
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        await asyncio.to_thread(stack.stop)


async def _stream(client: httpx.AsyncClient, max_tokens: int, started: asyncio.Event) -> list[bytes]:
    body = chat_body("tell me a long story", stream=True, max_tokens=max_tokens, metadata={"category": "long"})
    events = []
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(line[6:].encode())
                started.set()
    return events


async def test_sigterm_lets_short_streams_finish_and_ends_long_ones_with_an_error_event(
        served_gateway: tuple[LocalProcess, str], slow_sim: Simulator) -> None:
    proc, url = served_gateway
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        flags = [asyncio.Event() for _ in range(6)]
        # 10 tokens at 25 ms end inside the drain time; 400 tokens (10 s) cannot.
        tasks = [asyncio.create_task(_stream(client, 10 if i < 3 else 400, flags[i])) for i in range(6)]
        await asyncio.wait_for(asyncio.gather(*(f.wait() for f in flags)), 10)
        assert proc.process is not None
        os.kill(proc.process.pid, signal.SIGTERM)
        results = await asyncio.gather(*tasks)
    for events in results[:3]:
        assert events[-1] == b"[DONE]"
    for events in results[3:]:
        error = orjson.loads(events[-1])["error"]
        assert error["type"] == "service_unavailable" and error["code"] == 503
        assert "drain time (1.5 s) ran out" in error["message"]
    # The cut streams were closed upstream too: the backend stopped generating for them.
    assert (await slow_sim.wait_for_aborts(3))["aborted"] == 3
    # uvicorn re-raises the captured SIGTERM once it has shut down cleanly, so the process ends by that signal.
    assert await asyncio.to_thread(proc.process.wait, 30) in (0, -signal.SIGTERM)
