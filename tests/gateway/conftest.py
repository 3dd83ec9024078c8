"""Gateways with stored shadow pairs (texts kept) and a candidate that refuses in one category."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Gateway, GatewayFactory, Simulator, chat_body, wait_for_pairs

PAIRS = 40


@pytest.fixture
async def shadowed_gateway(make_gateway: GatewayFactory, candidate_sim: Simulator) -> Gateway:
    """Shadow pairs in `json` (the candidate refuses half the time) and `chat` (faithful), texts stored."""
    gateway = await make_gateway(comparisons={"store_texts": True, "max_text_chars": 2000, "flush_interval_s": 0.05})
    await candidate_sim.control(faults={"json": {"refusal": 0.5}})
    await gateway.set_flags(shadow_percent=100)
    async with gateway.client() as client:
        async def one(i: int) -> None:
            category = "json" if i % 2 else "chat"
            response = await client.post("/v1/chat/completions", json=chat_body(f"tell me about item {i}"),
                                         headers={"x-quantgate-category": category, "x-quantgate-key": f"k{i}"})
            assert response.status_code == 200

        await asyncio.gather(*(one(i) for i in range(PAIRS)))
    page = await wait_for_pairs(gateway, PAIRS)
    assert page["total"] >= PAIRS
    return gateway
