"""Gateways with stored shadow pairs (texts kept) and a candidate that refuses in one category."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from monitors.analysis.policy import DEFAULT_POLICY
from tests.conftest import Gateway, GatewayFactory, Simulator, chat_body, wait_for_pairs

PAIRS = 120


@pytest.fixture
async def shadowed_gateway(make_gateway: GatewayFactory, candidate_sim: Simulator, tmp_path: Path) -> Gateway:
    """Shadow pairs in `json` (the candidate refuses half the time) and `chat` (faithful), texts stored, under the
    default tolerances with a small enough minimum sample that the verdicts speak."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({**DEFAULT_POLICY.model_dump(mode="json"), "name": "console-test",
                                      "min_paired_samples": 20}))
    gateway = await make_gateway(comparisons={"store_texts": True, "max_text_chars": 2000, "flush_interval_s": 0.05},
                                 policy_file=str(policy))
    await candidate_sim.control(faults={"json": {"refusal": 0.5}})
    await gateway.set_flags(shadow_percent=100)
    # Eight at a time, as a client pool would: a burst of 120 at once sheds shadows (the queue's bound).
    limit = asyncio.Semaphore(8)
    async with gateway.client() as client:
        async def one(i: int) -> None:
            category = "json" if i % 2 else "chat"
            async with limit:
                response = await client.post("/v1/chat/completions", json=chat_body(f"tell me about item {i}"),
                                             headers={"x-quantgate-category": category, "x-quantgate-key": f"k{i}"})
            assert response.status_code == 200

        await asyncio.gather(*(one(i) for i in range(PAIRS)))
    page = await wait_for_pairs(gateway, PAIRS, timeout_s=30)
    assert page["total"] >= PAIRS
    return gateway
