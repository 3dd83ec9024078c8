"""A flag store that is down never blocks start-up or requests: last known flags, then safe defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import GatewayFactory, chat_body
from tests.helpers import metric_value


async def test_store_never_reachable_serves_baseline(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(wait_for_flags=False, flag_store_url="sqlite:////nonexistent/dir/flags.db")
    async with gateway.client() as client:
        responses = [await client.post("/v1/chat/completions", json=chat_body(), headers={"x-quantgate-key": f"k{i}"})
                     for i in range(10)]
        ready = await client.get("/readyz")
        metrics = (await client.get("/metrics")).text
    assert {r.status_code for r in responses} == {200}
    assert {r.headers["x-quantgate-variant"] for r in responses} == {"baseline"}
    assert ready.status_code == 503
    assert ready.json()["flags_loaded"] is False and ready.json()["flag_store_reachable"] is False
    assert metric_value(metrics, "quantgate_flag_store_up") == 0


async def test_store_lost_after_load_keeps_last_known_flags(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = await make_gateway()
    await gateway.set_flags(rollout_percent=100)
    db = tmp_path / "flags.db"
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            path.write_bytes(b"this is not a database" * 100)
    for _ in range(100):
        if not gateway.runtime.flags.store_reachable:
            break
        await asyncio.sleep(0.02)
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
        ready = (await client.get("/readyz")).json()
    assert response.status_code == 200 and response.headers["x-quantgate-variant"] == "candidate"
    assert ready["serving_last_known_flags"] is True and ready["flag_store_reachable"] is False
    async with gateway.admin() as admin:
        write = await admin.put("/admin/flags", json={"rollout_percent": 5, "reason": "x"})
        read = await admin.get("/admin/flags")
    assert write.status_code == 503 and "nothing was changed" in write.json()["error"]["message"]
    assert read.json()["source"] == "last_known" and read.json()["rollout_percent"] == 100
