"""Several uvicorn workers: a rollback reaches every worker at its next poll; metrics aggregate across them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bench.replicas import Replica, wait_for_workers, wait_until_all
from gateway.demo.stack import LocalStack, free_port, quantgate_argv
from tests.conftest import ADMIN_TOKEN, chat_body
from tests.helpers import metric_value


@pytest.fixture
async def two_worker_gateway(tmp_path: Path, process_env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    stack = LocalStack(tmp_path)
    env = {**process_env, "QUANTGATE_FLAG_POLL_INTERVAL_S": "0.1",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    proc = stack.start("gateway", quantgate_argv("serve", "--port", str(port), "--workers", "2"), env)
    try:
        await asyncio.to_thread(proc.wait_ready, f"http://127.0.0.1:{port}/readyz", 60)
        # /readyz answers from the first worker up; a worker still starting serves on safe defaults until it polls.
        await asyncio.to_thread(wait_for_workers, f"http://127.0.0.1:{port}", 2)
        yield f"http://127.0.0.1:{port}"
    finally:
        await asyncio.to_thread(stack.stop)


async def _variants_on_fresh_connections(url: str, n: int) -> set[str]:
    seen = set()
    for i in range(n):
        # A new connection each time, so the kernel spreads requests over both workers.
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1),
                                         headers={"x-quantgate-key": f"user-{i}"})
        assert response.status_code == 200
        seen.add(response.headers["x-quantgate-variant"])
    return seen


async def test_rollback_reaches_every_worker(two_worker_gateway: str, tmp_path: Path) -> None:
    url = two_worker_gateway
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        flags = await admin.put("/admin/flags", json={"rollout_percent": 100, "reason": "canary"})
        await asyncio.to_thread(wait_until_all, [Replica(url)], flags.json()["version"])
        assert await _variants_on_fresh_connections(url, 40) == {"candidate"}
        flags = await admin.post("/admin/rollback", json={"reason": "drill"})
        await asyncio.to_thread(wait_until_all, [Replica(url)], flags.json()["version"])
        assert await _variants_on_fresh_connections(url, 40) == {"baseline"}
        metrics = (await admin.get("/metrics")).text
    # Both workers served traffic (one counter file per worker pid) and /metrics sums them.
    assert len(list((tmp_path / "metrics").glob("counter_*.db"))) >= 2
    assert metric_value(metrics, "quantgate_requests_total") == 80
    assert metric_value(metrics, "quantgate_rollback_active") == 1
