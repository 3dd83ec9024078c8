"""The admin surface: what counts as a token, bounded bodies, JSON only, strict types, and nothing stored on refusal."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from gateway.app import AdminTokenRequired, create_app
from gateway.settings import load_settings
from tests.conftest import ADMIN_TOKEN, Gateway


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_token_is_no_token_and_the_admin_api_stays_on_loopback(monkeypatch, blank: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUANTGATE_ADMIN_TOKEN", blank)
    settings = load_settings(host="0.0.0.0", flag_store_url="sqlite://")
    assert settings.admin_token is None
    with pytest.raises(AdminTokenRequired):
        create_app(settings)


def test_a_short_token_is_refused_at_start_up_with_the_reason(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QUANTGATE_ADMIN_TOKEN", "hunter2")
    with pytest.raises(ValueError, match="at least 16"):
        load_settings(flag_store_url="sqlite://")


def test_the_serve_command_says_why_it_will_not_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A subprocess with a deadline: were the short token accepted, the server would start and never return.
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "serve", "--port", "0"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, "QUANTGATE_ADMIN_TOKEN": "short", "COLUMNS": "200"})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "at least 16" in output and "Traceback" not in output


async def test_an_empty_bearer_is_refused(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers={"authorization": "Bearer"}) as client:
        response = await client.put("/admin/flags", json={"rollout_percent": 50, "reason": "x"})
    assert response.status_code == 401


async def _stored(gateway: Gateway) -> tuple[dict, list]:  # type: ignore[type-arg]
    async with gateway.admin() as admin:
        return (await admin.get("/admin/flags")).json(), (await admin.get("/admin/audit")).json()["entries"]


async def test_an_oversized_body_is_refused_before_it_is_read(gateway: Gateway) -> None:
    before = await _stored(gateway)
    async with gateway.admin() as admin:
        declared = await admin.put("/admin/flags", content=b"{" + b" " * (2 << 20) + b"}",
                                   headers={"content-type": "application/json"})

        async def trickle():  # type: ignore[no-untyped-def]
            for _ in range(100):
                yield b" " * 1024

        chunked = await admin.put("/admin/flags", content=trickle(), headers={"content-type": "application/json"})
    assert declared.status_code == chunked.status_code == 413
    assert "bytes" in declared.json()["error"]["message"]
    assert await _stored(gateway) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_admin_writes_take_json_only(gateway: Gateway, content_type: str | None) -> None:
    before = await _stored(gateway)
    headers = {"content-type": content_type} if content_type else {}
    async with httpx.AsyncClient(base_url=gateway.url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        response = await admin.put("/admin/flags", content=b'{"rollout_percent": 10, "reason": "x"}', headers=headers)
    assert response.status_code == 415 and "application/json" in response.json()["error"]["message"]
    assert await _stored(gateway) == before


@pytest.mark.parametrize("change", [{"rollout_percent": True}, {"shadow_percent": "10"},
                                   {"expected_version": True}, {"expected_version": 2**64}])
async def test_values_of_the_wrong_type_are_refused_not_coerced(gateway: Gateway, change: dict) -> None:  # type: ignore[type-arg]
    before = await _stored(gateway)
    async with gateway.admin() as admin:
        response = await admin.put("/admin/flags", json={**change, "reason": "typed"})
    assert response.status_code == 422
    assert await _stored(gateway) == before


@pytest.mark.parametrize("since", ["1000000d", "9" * 400 + "h", "x" * 100, "99999-01-01"])
async def test_time_windows_that_overflow_are_a_400(gateway: Gateway, since: str) -> None:
    async with gateway.admin() as admin:
        listed = await admin.get("/admin/comparisons", params={"since": since})
        verdicts = await admin.get("/admin/verdicts", params={"since": since})
    assert listed.status_code == verdicts.status_code == 400
    assert listed.json()["error"]["param"] == "since"


@pytest.mark.parametrize("record_id", ["١٢٣", "²", "9" * 30, str(2**63)])
async def test_ids_that_are_not_plain_int64_are_a_400(gateway: Gateway, record_id: str) -> None:
    async with gateway.admin() as admin:
        response = await admin.get(f"/admin/comparisons/{record_id}")
    assert response.status_code == 400 and response.json()["error"]["param"] == "id"


@pytest.mark.parametrize("path", ["/console/", "/console/audit/"])
async def test_redirects_are_relative_whatever_host_the_client_names(gateway: Gateway, path: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        response = await client.get(path, headers={"host": "evil.example"})
    assert 300 <= response.status_code < 400
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil.example" not in location


async def test_the_api_docs_load_every_asset_from_the_gateway_itself(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        page = await client.get("/admin/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(asset.startswith("/admin/") for asset in assets), assets
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
    # Nothing the page runs names another host (the CDN FastAPI's default page loads from).
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi.tiangolo.com", "")
