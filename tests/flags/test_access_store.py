"""Console sessions and failed logins in the store, on SQLite and on PostgreSQL (times compare as UTC on both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flags.access_store import AccessStore
from flags.model import utcnow
from flags.store import FlagStore


@pytest.fixture(params=["sqlite", "postgresql"])
def access(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccessStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
    else:
        from gateway.cli.main import app as cli

        url = request.getfixturevalue("postgres_url")
        assert CliRunner().invoke(cli, ["db", "upgrade", "--url", url]).exit_code == 0
    store = FlagStore(url)
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
