"""Rollout routing through the gateway: share, stickiness, monotonicity, rollback, category pins."""

from __future__ import annotations

import asyncio
import math

from gateway.routing import CategoryLabels
from tests.conftest import Gateway, chat_body


async def _variants(gateway: Gateway, keys: list[str], category: str | None = None) -> dict[str, str]:
    semaphore = asyncio.Semaphore(16)

    async def one(client, key: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
        headers = {"x-quantgate-key": key}
        if category:
            headers["x-quantgate-category"] = category
        async with semaphore:
            response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=2), headers=headers)
        assert response.status_code == 200, response.text
        return key, response.headers["x-quantgate-variant"]

    async with gateway.client() as client:
        return dict(await asyncio.gather(*(one(client, key) for key in keys)))


async def test_rollout_share_is_within_binomial_tolerance(gateway: Gateway) -> None:
    await gateway.set_flags(rollout_percent=30)
    keys = [f"user-{i}" for i in range(400)]
    routed = await _variants(gateway, keys)
    share = sum(v == "candidate" for v in routed.values()) / len(keys)
    tolerance = 4 * math.sqrt(0.3 * 0.7 / len(keys))
    assert abs(share - 0.3) < tolerance


async def test_routing_is_sticky_and_monotonic(gateway: Gateway) -> None:
    keys = [f"key-{i}" for i in range(120)]
    await gateway.set_flags(rollout_percent=10)
    at_10 = {k for k, v in (await _variants(gateway, keys)).items() if v == "candidate"}
    assert at_10 == {k for k, v in (await _variants(gateway, keys)).items() if v == "candidate"}
    await gateway.set_flags(rollout_percent=50)
    at_50 = {k for k, v in (await _variants(gateway, keys)).items() if v == "candidate"}
    assert at_10 < at_50
    await gateway.set_flags(rollout_percent=10)
    assert {k for k, v in (await _variants(gateway, keys)).items() if v == "candidate"} == at_10


async def test_routing_key_falls_back_to_body_user(gateway: Gateway) -> None:
    await gateway.set_flags(rollout_percent=50)
    async with gateway.client() as client:
        seen = set()
        for _ in range(5):
            response = await client.post("/v1/chat/completions", json=chat_body(user="alice", max_tokens=2))
            seen.add(response.headers["x-quantgate-variant"])
    assert len(seen) == 1


async def test_rollback_sends_everything_to_baseline(gateway: Gateway) -> None:
    await gateway.set_flags(rollout_percent=100, category_overrides={"json": "candidate"})
    keys = [f"k{i}" for i in range(40)]
    assert set((await _variants(gateway, keys)).values()) == {"candidate"}
    async with gateway.admin() as admin:
        response = await admin.post("/admin/rollback", json={"reason": "refusals up in benign-sensitive"})
    assert response.status_code == 200 and response.json()["rollback"] is True
    assert set((await _variants(gateway, keys)).values()) == {"baseline"}
    assert set((await _variants(gateway, keys, category="json")).values()) == {"baseline"}


async def test_category_override_pins_a_slice(gateway: Gateway) -> None:
    await gateway.set_flags(rollout_percent=0, category_overrides={"code": "candidate"})
    keys = [f"k{i}" for i in range(20)]
    assert set((await _variants(gateway, keys, category="code")).values()) == {"candidate"}
    assert set((await _variants(gateway, keys, category="chat")).values()) == {"baseline"}
    await gateway.set_flags(rollout_percent=100, category_overrides={"code": "baseline"})
    assert set((await _variants(gateway, keys, category="code")).values()) == {"baseline"}


def test_a_category_with_a_trailing_newline_gets_no_label_of_its_own() -> None:
    overflows: list[int] = []
    labels = CategoryLabels([], limit=10, on_overflow=lambda: overflows.append(1))
    assert labels.label("json\n") == "other" and labels.label("json") == "json" and overflows == [1]
