"""Fixtures for shadow tests: a gateway mirroring every request, and a way to wait for its pairs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Gateway, GatewayFactory


async def wait_for_pairs(gateway: Gateway, expected: int, timeout_s: float = 20.0) -> dict[str, Any]:
    """Poll the admin API until `expected` comparisons are stored; returns the last page."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    page: dict[str, Any] = {"total": 0, "comparisons": []}
    async with gateway.admin() as admin:
        while loop.time() < deadline:
            await gateway.runtime.writer.flush()
            page = (await admin.get("/admin/comparisons", params={"limit": 1000})).json()
            if page["total"] >= expected:
                return page
            await asyncio.sleep(0.05)
    return page


@pytest.fixture
async def shadow_gateway(make_gateway: GatewayFactory) -> Gateway:
    """Primary on the baseline, every request mirrored to the candidate, fast record flushes."""
    gateway = await make_gateway(comparisons={"flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    return gateway
