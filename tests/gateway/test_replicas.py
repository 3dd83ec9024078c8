"""Two gateway processes of two workers each on one PostgreSQL: one rollback reaches all four workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from typer.testing import CliRunner

from bench.replicas import start_replicas, wait_until_all, workdir_stack, worker_floor
from gateway.cli.main import app
from tests.conftest import ADMIN_TOKEN, Simulator, chat_body


async def test_rollback_on_one_replica_reaches_every_worker(postgres_url: str, tmp_path: Path,
                                                            baseline_sim: Simulator, candidate_sim: Simulator) -> None:
    assert CliRunner().invoke(app, ["db", "upgrade", "--url", postgres_url]).exit_code == 0
    stack = workdir_stack(tmp_path / "stack")
    try:
        replicas = await asyncio.to_thread(start_replicas, stack, postgres_url, (baseline_sim.url, baseline_sim.name),
                                           (candidate_sim.url, candidate_sim.name), ADMIN_TOKEN, 2, 2, 0.1)
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=replicas[0].url, headers=headers) as admin:
            flags = (await admin.put("/admin/flags", json={"rollout_percent": 100, "reason": "canary"})).json()
            await asyncio.to_thread(wait_until_all, replicas, flags["version"])
            flags = (await admin.post("/admin/rollback", json={"reason": "drill"})).json()
        await asyncio.to_thread(wait_until_all, replicas, flags["version"])
        for replica in replicas:
            assert await asyncio.to_thread(worker_floor, replica.url, "quantgate_rollback_active") == 1
            for i in range(12):
                async with httpx.AsyncClient(base_url=replica.url) as client:
                    response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=1),
                                                 headers={"x-quantgate-key": f"u{i}"})
                assert response.headers["x-quantgate-variant"] == "baseline"
    finally:
        await asyncio.to_thread(stack.stop)
