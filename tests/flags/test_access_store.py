"""Console sessions and failed logins in the store, on SQLite and on PostgreSQL (times compare as UTC on both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from flags.access_store import AccessStore
from flags.model import utcnow
from flags.store import FlagStore


@pytest.fixture
def access(database_url: str) -> Iterator[AccessStore]:
    store = FlagStore(database_url)
    store.ensure_schema()
    yield AccessStore(store)
    store.close()


def test_a_session_opens_reads_back_and_is_revoked(access: AccessStore) -> None:
    opened = access.open_session("console:alice", "fp", timedelta(hours=8))
    row = access.live_session(opened.cookie_id, "fp", timedelta(minutes=30))
    assert row is not None and row.actor == "console:alice" and row.id_sha256 != opened.cookie_id
    assert access.live_session(opened.cookie_id, "another-token", timedelta(minutes=30)) is None
    access.revoke(row.id_sha256, "logout")
    assert access.live_session(opened.cookie_id, "fp", timedelta(minutes=30)) is None


def test_an_expired_session_is_refused(access: AccessStore) -> None:
    opened = access.open_session("console:bob", "fp", timedelta(seconds=60))
    assert access.live_session(opened.cookie_id, "fp", timedelta(hours=1)) is not None
    # Idle longer than allowed: refused without waiting (an idle limit below the time since the last page).
    assert access.live_session(opened.cookie_id, "fp", timedelta(0)) is None


def test_failures_are_counted_per_address_since_a_time(access: AccessStore) -> None:
    before = utcnow() - timedelta(seconds=1)
    for _ in range(3):
        access.record_failure("10.0.0.7", "console", "wrong admin token for mallory")
    access.record_failure("10.0.0.8", "admin-api", "wrong bearer token")
    assert access.failures_since("10.0.0.7", before) == 3
    assert access.failures_since("10.0.0.7", utcnow() + timedelta(seconds=1)) == 0
    assert [f.client for f in access.failures(2)] == ["10.0.0.8", "10.0.0.7"]
