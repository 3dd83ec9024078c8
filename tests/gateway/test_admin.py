"""Admin API: authentication, validation that writes nothing, rollback in one call, audit trail."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import AdminTokenRequired, create_app
from gateway.settings import GatewaySettings
from tests.conftest import Gateway


async def _state(gateway: Gateway) -> tuple[dict, list]:
    async with gateway.admin() as admin:
        flags = (await admin.get("/admin/flags")).json()
        audit = (await admin.get("/admin/audit")).json()["entries"]
    return flags, audit


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": "Basic abc"}])
async def test_admin_requires_the_bearer_token(gateway: Gateway, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as client:
        responses = [await client.get("/admin/flags"),
                     await client.put("/admin/flags", json={"rollout_percent": 50, "reason": "x"}),
                     await client.post("/admin/rollback", json={"reason": "x"}),
                     await client.get("/admin/audit")]
    assert [r.status_code for r in responses] == [401] * 4
    assert responses[0].json()["error"]["type"] == "authentication_error"
    flags, _ = await _state(gateway)
    assert flags["rollout_percent"] == 0 and flags["rollback"] is False


@pytest.mark.parametrize("body, fragment", [
    ({"rollout_percent": 150, "reason": "x"}, "rollout_percent"),
    ({"rollout_percent": -1, "reason": "x"}, "rollout_percent"),
    ({"shadow_percent": "lots", "reason": "x"}, "shadow_percent"),
    ({"rollout_pct": 10, "reason": "x"}, "rollout_pct"),
    ({"rollout_percent": 10}, "reason"),
    ({"rollout_percent": 10, "reason": "   "}, "reason"),
    ({"rollback": "yes", "reason": "x"}, "rollback"),
    ({"category_overrides": {"json": "quantized"}, "reason": "x"}, "category_overrides"),
    ({"category_overrides": {"bad name!": "candidate"}, "reason": "x"}, "category"),
])
async def test_invalid_updates_are_422_and_write_nothing(gateway: Gateway, body: dict, fragment: str) -> None:
    before = await _state(gateway)
    async with gateway.admin() as admin:
        response = await admin.put("/admin/flags", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]
    assert await _state(gateway) == before


async def test_malformed_json_is_400(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        response = await admin.put("/admin/flags", content=b"{rollout", headers={"content-type": "application/json"})
        rollback = await admin.post("/admin/rollback", json={})
    assert response.status_code == 400
    assert rollback.status_code == 422 and "reason" in rollback.json()["error"]["message"]


async def test_updates_and_rollback_are_audited(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        await admin.put("/admin/flags", json={"rollout_percent": 10, "reason": "start canary"},
                        headers={"x-quantgate-actor": "ops-alice"})
        await admin.put("/admin/flags", json={"rollout_percent": 10, "reason": "no-op"})
        await admin.post("/admin/rollback", json={"reason": "refusal spike", "actor": "oncall-bob"})
        entries = (await admin.get("/admin/audit")).json()["entries"]
        only_rollback = (await admin.get("/admin/audit", params={"flag": "rollback"})).json()["entries"]
    newest, no_op, first = entries[0], entries[1], entries[2]
    assert (newest["flag"], newest["old_value"], newest["new_value"]) == ("rollback", False, True)
    assert (newest["actor"], newest["reason"]) == ("oncall-bob", "refusal spike")
    assert (first["flag"], first["new_value"], first["actor"]) == ("rollout_percent", 10.0, "ops-alice")
    # The no-op changed no flag and no version, but who asked and why is on the record.
    assert (no_op["flag"], no_op["new_value"], no_op["reason"]) == ("no_change", {"rollout_percent": 10.0}, "no-op")
    assert no_op["version"] == first["version"] and newest["version"] == first["version"] + 1
    assert [e["flag"] for e in only_rollback] == ["rollback"]


async def test_stale_expected_version_is_409(gateway: Gateway) -> None:
    flags = await gateway.set_flags(rollout_percent=5)
    async with gateway.admin() as admin:
        stale = await admin.put("/admin/flags", json={"rollout_percent": 20, "reason": "x",
                                                       "expected_version": flags["version"] - 1})
        fresh = await admin.put("/admin/flags", json={"rollout_percent": 20, "reason": "x",
                                                       "expected_version": flags["version"]})
    assert stale.status_code == 409 and fresh.status_code == 200


async def test_salt_roll_is_explicit_and_audited(gateway: Gateway) -> None:
    flags = await gateway.set_flags(salt="new-salt-2026")
    _, audit = await _state(gateway)
    assert flags["salt"] == "new-salt-2026"
    assert audit[0]["flag"] == "salt" and audit[0]["new_value"] == "new-salt-2026"


def test_admin_without_token_refuses_to_start_off_loopback() -> None:
    with pytest.raises(AdminTokenRequired):
        create_app(GatewaySettings(host="0.0.0.0", flag_store_url="sqlite://"))
    create_app(GatewaySettings(host="127.0.0.1", flag_store_url="sqlite://"))
    create_app(GatewaySettings(host="0.0.0.0", admin_token="t" * 16, flag_store_url="sqlite://"))
