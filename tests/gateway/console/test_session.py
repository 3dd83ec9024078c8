"""Console sessions kept server-side: logout and a new admin token end them everywhere, idleness ends them, failed
logins are throttled per address and audited, and no garbled cookie or CSRF field is ever accepted."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import update

from flags.access import ConsoleSessionRow
from flags.access_store import AccessStore
from flags.model import utcnow
from flags.store import FlagStore
from gateway.console.session import COOKIE, ConsoleSession, token_fingerprint
from tests.conftest import ADMIN_TOKEN, Gateway


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def _login(gateway: Gateway, name: str = "alice") -> tuple[str, str]:
    """(cookie value, CSRF token) of a fresh session."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        response = await client.post("/console/login", data={"name": name, "token": ADMIN_TOKEN})
        assert response.status_code == 303
        return client.cookies[COOKIE], _csrf((await client.get("/console")).text)


async def _roll_back_with(gateway: Gateway, cookie: str, csrf: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30, cookies={COOKIE: cookie}) as client:
        return await client.post("/console/rollback", data={"reason": "stolen", "confirm": "yes", "csrf": csrf})


async def test_logout_revokes_the_session_everywhere_and_deletes_the_cookie_as_it_was_set(gateway: Gateway) -> None:
    cookie, csrf = await _login(gateway)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30, cookies={COOKIE: cookie}) as client:
        logout = await client.post("/console/logout", data={"csrf": csrf})
    assert logout.status_code == 303
    deletion = logout.headers["set-cookie"].lower()
    assert "samesite=strict" in deletion and "httponly" in deletion and "path=/console" in deletion
    # A copy of the cookie (and its CSRF token) taken before the logout opens nothing and changes nothing.
    replay = await _roll_back_with(gateway, cookie, csrf)
    assert replay.status_code == 303 and replay.headers["location"] == "/console/login"
    assert gateway.runtime.store.snapshot().rollback is False


async def test_a_new_admin_token_ends_older_sessions(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway()
    cookie, csrf = await _login(gateway)
    rotated = await make_gateway(admin_token="a-brand-new-admin-token-0123456789")
    refused = await _roll_back_with(rotated, cookie, csrf)
    assert refused.status_code == 303 and refused.headers["location"] == "/console/login"
    assert rotated.runtime.store.snapshot().rollback is False
    # The old deployment still knows it (same token): the session is tied to the token, not to a process.
    assert (await _roll_back_with(gateway, cookie, csrf)).status_code == 303
    assert gateway.runtime.store.snapshot().rollback is True


async def test_an_idle_session_expires(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(console_idle_timeout_s=600)
    cookie, csrf = await _login(gateway)
    # Eleven minutes without a page view, written into the store rather than waited for.
    with gateway.runtime.store.transaction(write=True) as session:
        session.exec(update(ConsoleSessionRow).values(last_seen_at=utcnow() - timedelta(minutes=11)))
    refused = await _roll_back_with(gateway, cookie, csrf)
    assert refused.status_code == 303 and refused.headers["location"] == "/console/login"
    assert gateway.runtime.store.snapshot().rollback is False


async def test_failed_logins_are_throttled_per_address_and_audited(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(auth_failure_limit=5, auth_failure_window_s=3600)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        wrong = [await client.post("/console/login", data={"name": "mallory", "token": f"guess-{i}"})
                 for i in range(5)]
        locked = await client.post("/console/login", data={"name": "alice", "token": ADMIN_TOKEN})
    assert [r.status_code for r in wrong] == [401] * 5
    # Even the right token waits: a guesser must not learn that a guess was right.
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0 and not locked.cookies
    assert "too many failed attempts from 127.0.0.1" in locked.text
    failures = gateway.runtime.access.failures()
    assert len(failures) == 5 and {(f.client, f.surface) for f in failures} == {("127.0.0.1", "console")}
    assert failures[0].detail == "wrong admin token for mallory"


async def test_wrong_bearer_tokens_are_throttled_and_audited_too(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(auth_failure_limit=3, auth_failure_window_s=3600)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        codes = [(await client.post("/admin/rollback", json={"reason": "x"},
                                    headers={"authorization": f"Bearer guess-{i}"})).status_code for i in range(3)]
        limited = await client.post("/admin/rollback", json={"reason": "x"},
                                    headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert codes == [401, 401, 401]
    assert limited.status_code == 429 and limited.json()["error"]["type"] == "rate_limit_error"
    assert "retry-after" in limited.headers
    assert gateway.runtime.store.snapshot().rollback is False
    assert [f.surface for f in gateway.runtime.access.failures()] == ["admin-api"] * 3
    async with gateway.admin() as admin:
        audit = await admin.get("/admin/audit/auth-failures")
    # The API's own client comes from the same address: locked out too, until the window passes.
    assert audit.status_code == 429


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory) -> AccessStore:
    store = FlagStore(f"sqlite:///{Path(tmp_path_factory.mktemp('sessions')) / 'flags.db'}")
    store.ensure_schema()
    return AccessStore(store)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.text(max_size=300))
def test_no_forged_or_garbled_cookie_opens_a_session(access: AccessStore, garbage: str) -> None:
    fingerprint = token_fingerprint(None)
    opened = access.open_session("console:alice", fingerprint, timedelta(hours=1))
    assert access.live_session(opened.cookie_id, fingerprint, timedelta(hours=1)) is not None
    assert garbage == opened.cookie_id or access.live_session(garbage, fingerprint, timedelta(hours=1)) is None


@given(given_token=st.text(max_size=60))
def test_any_csrf_field_is_answered_not_crashed_on(given_token: str) -> None:
    session = ConsoleSession("console:alice", "k" * 64, "the-csrf-token-of-this-session")
    assert session.csrf_ok(given_token) is (given_token == "the-csrf-token-of-this-session")
