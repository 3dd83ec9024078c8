"""A frozen PostgreSQL flag store under a running gateway: shown down, traffic unaffected, writes refused in time."""

from __future__ import annotations

import asyncio
from typing import Any

from typer.testing import CliRunner

from bench.postgres import PostgresServer
from gateway.cli.main import app as cli
from tests.conftest import ADMIN_TOKEN, Gateway, GatewayFactory, chat_body
from tests.helpers import metric_value

TIMEOUTS = {"connect_timeout_s": 2, "statement_timeout_s": 0.5, "lock_timeout_s": 0.5, "write_deadline_s": 1,
            "write_margin_s": 0.5}


async def _ready(gateway: Gateway) -> dict[str, Any]:
    async with gateway.client() as client:
        return (await client.get("/readyz")).json()


async def _wait_for_store(gateway: Gateway, up: bool, limit_s: float = 15.0) -> dict[str, Any]:
    ready: dict[str, Any] = {}
    for _ in range(int(limit_s / 0.05)):
        ready = await _ready(gateway)
        if ready["flag_store_reachable"] is up:
            break
        await asyncio.sleep(0.05)
    return ready


async def test_frozen_store_is_shown_down_traffic_flows_and_a_refused_write_never_lands(
        make_gateway: GatewayFactory, pg_server: PostgresServer) -> None:
    gateway = await make_gateway(flag_store_url=pg_server.url, flag_poll_interval_s=0.1,
                                 flag_store_timeouts=TIMEOUTS)
    before = await gateway.set_flags(rollout_percent=10)
    await asyncio.to_thread(pg_server.freeze)
    try:
        ready = await _wait_for_store(gateway, up=False)
        assert ready["flag_store_reachable"] is False and ready["serving_last_known_flags"] is True
        async with gateway.client() as client:
            metrics = (await client.get("/metrics")).text
            answers = [await client.post("/v1/chat/completions", json=chat_body(f"p{i}")) for i in range(10)]
        assert metric_value(metrics, "quantgate_flag_store_up") == 0
        assert metric_value(metrics, "quantgate_flag_store_staleness_seconds") > 0
        assert {r.status_code for r in answers} == {200}
        result = await asyncio.to_thread(CliRunner().invoke, cli, [
            "rollback", "--reason", "during the freeze", "--url", gateway.url, "--token", ADMIN_TOKEN])
        assert result.exit_code == 1
        assert "not applied" in result.output and "cannot land later" in result.output
    finally:
        await asyncio.to_thread(pg_server.thaw)
    assert (await _wait_for_store(gateway, up=True))["flag_store_reachable"] is True
    async with gateway.admin() as admin:
        flags = (await admin.get("/admin/flags")).json()
        audit = (await admin.get("/admin/audit")).json()["entries"]
    assert (flags["version"], flags["rollback"], flags["source"]) == (before["version"], False, "store")
    assert "during the freeze" not in {entry["reason"] for entry in audit}
