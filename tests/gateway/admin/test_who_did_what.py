"""The audit trail says who did what and why, and nothing a person typed can take over the terminal that reads it."""

from __future__ import annotations

import pytest

from gateway.admin.flags_router import current_flags
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from tests.conftest import Gateway


async def _audit(gateway: Gateway) -> list[dict]:  # type: ignore[type-arg]
    async with gateway.admin() as admin:
        return (await admin.get("/admin/audit")).json()["entries"]


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("reason", "drill\x1b]0;pwned\x07", "\\x1b"), ("reason", "line one\r\nv 99 rollout 100", "\\r"),
    ("reason", "nul\x00byte", "\\x00"), ("actor", "alice\nmallory", "\\n"), ("actor", "eve\x1b[2J", "\\x1b"),
    ("reason", "bidi \u202eesrever", "\\u202e")])
async def test_control_characters_are_refused_with_a_422_and_nothing_changes(
        gateway: Gateway, field: str, value: str, shown: str) -> None:
    before = await _audit(gateway)
    body = {"reason": "ok", field: value}
    async with gateway.admin() as admin:
        rollback = await admin.post("/admin/rollback", json=body)
        update = await admin.put("/admin/flags", json={"rollout_percent": 10, **body})
        flags = (await admin.get("/admin/flags")).json()
    for response in (rollback, update):
        assert response.status_code == 422
        assert "control characters" in response.json()["error"]["message"] and shown in response.json()["error"][
            "message"]
    assert flags["rollback"] is False and flags["rollout_percent"] == 0
    assert await _audit(gateway) == before


@pytest.mark.parametrize("actor", [b"ops\x1b[31m", b"ops\x7f", b"ops\x9b2J"])
async def test_an_actor_header_with_control_characters_is_refused(gateway: Gateway, actor: bytes) -> None:
    before = await _audit(gateway)
    async with gateway.admin() as admin:
        response = await admin.post("/admin/rollback", json={"reason": "drill"}, headers={"x-quantgate-actor": actor})
    # The HTTP parser refuses most control bytes in a header (400); the rest are the admin API's 422.
    assert response.status_code in (400, 422)
    assert await _audit(gateway) == before
    async with gateway.admin() as admin:
        named = await admin.post("/admin/rollback", json={"reason": "drill"}, headers={"x-quantgate-actor": "bob@h1"})
    assert named.status_code == 200 and (await _audit(gateway))[0]["actor"] == "bob@h1"


async def test_a_second_rollback_is_audited_with_its_reason(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        first = (await admin.post("/admin/rollback", json={"reason": "refusals up", "actor": "alice@h1"})).json()
        second = (await admin.post("/admin/rollback", json={"reason": "still bad, paging", "actor": "bob@h2"})).json()
    assert second["version"] == first["version"] and second["rollback"] is True
    newest = (await _audit(gateway))[0]
    assert (newest["flag"], newest["actor"], newest["reason"], newest["version"]) == (
        "no_change", "bob@h2", "still bad, paging", first["version"])
    assert newest["new_value"] == {"rollback": True}


async def test_the_first_read_of_the_flags_is_the_stores_not_version_0(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Before any worker polled, a read creates the initial flag set instead of reporting safe defaults."""
    runtime = GatewayRuntime.build(GatewaySettings(flag_store_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    try:
        flags, source = await current_flags(runtime)
    finally:
        runtime.store.close()
        runtime.comparisons.close()
    assert (flags.version, source) == (1, "store")
