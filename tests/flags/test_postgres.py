"""The flag store on a real PostgreSQL: explicit migrations, concurrent writers, version checks."""

from __future__ import annotations

import threading

import pytest
from typer.testing import CliRunner

from flags.migrate import current_revision, head_revision
from flags.store import FlagStore, FlagStoreUnavailable, StaleFlagVersion
from flags.updates import FlagUpdate
from gateway.cli.main import app


def _upgrade(url: str) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output


def test_postgres_needs_an_explicit_migration(postgres_url: str) -> None:
    store = FlagStore(postgres_url)
    with pytest.raises(FlagStoreUnavailable, match="quantgate db upgrade"):
        store.ensure_schema()
    _upgrade(postgres_url)
    assert current_revision(store.engine) == head_revision()
    store.ensure_schema()
    assert store.snapshot().version == 1
    _upgrade(postgres_url)  # idempotent
    assert "this version" in CliRunner().invoke(app, ["db", "current", "--url", postgres_url]).output


def test_concurrent_admin_writes_land_in_order(postgres_url: str) -> None:
    _upgrade(postgres_url)
    stores = [FlagStore(postgres_url) for _ in range(4)]
    stores[0].ensure_schema()
    errors: list[BaseException] = []

    def writer(store: FlagStore, worker: int) -> None:
        try:
            for i in range(20):
                update = FlagUpdate(rollout_percent=worker * 20 + i + 1, reason=f"w{worker}-{i}")
                store.apply(update, actor=f"w{worker}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    changes = list(reversed([e for e in stores[0].audit(limit=500) if e.flag == "rollout_percent"]))
    assert len(changes) == 80
    assert [e.version for e in changes] == list(range(2, 82))
    assert all(a.new_value == b.old_value for a, b in zip(changes, changes[1:], strict=False))
    with pytest.raises(StaleFlagVersion):
        stores[1].apply(FlagUpdate(rollout_percent=1, reason="late", expected_version=5), actor="late")
