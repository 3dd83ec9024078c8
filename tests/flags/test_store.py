"""The SQLite flag store under concurrent writers: versions monotonic, no lost update, full audit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flags.store import FlagStore, StaleFlagVersion
from flags.updates import FlagUpdate


@pytest.fixture
def store(tmp_path: Path) -> FlagStore:
    store = FlagStore(f"sqlite:///{tmp_path / 'flags.db'}")
    store.ensure_schema()
    return store


def test_fresh_store_routes_nothing_to_candidate(store: FlagStore) -> None:
    flags = store.snapshot()
    assert (flags.version, flags.rollout_percent, flags.rollback) == (1, 0.0, False)
    assert store.audit()[0].reason == "initial flag set"


def test_concurrent_writers_from_two_stores_lose_nothing(store: FlagStore, tmp_path: Path) -> None:
    other = FlagStore(store.url)  # a second "worker" with its own engine
    errors: list[BaseException] = []

    def writer(target: FlagStore, name: str) -> None:
        try:
            for i in range(25):
                target.apply(FlagUpdate(rollout_percent=i + 1 + (50.5 if name == "b" else 0), reason=f"{name}{i}"),
                             actor=name)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, n)) for s, n in ((store, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = store.audit(limit=1000)
    changes = [e for e in entries if e.flag == "rollout_percent"]
    assert len(changes) == 50  # every write changed the value, so every write is audited
    versions = [e.version for e in reversed(changes)]
    assert versions == sorted(versions) and len(set(versions)) == 50
    assert store.current_version() == 51
    # Each audit row's old value is the previous row's new value: no interleaving lost an update.
    ordered = list(reversed(changes))
    assert all(a.new_value == b.old_value for a, b in zip(ordered, ordered[1:], strict=False))


def test_expected_version_guards_against_stale_writes(store: FlagStore) -> None:
    store.apply(FlagUpdate(rollout_percent=10, reason="x"), actor="t")
    with pytest.raises(StaleFlagVersion):
        store.apply(FlagUpdate(rollout_percent=20, reason="x", expected_version=1), actor="t")
    assert store.snapshot().rollout_percent == 10


def test_overrides_merge_and_unpin(store: FlagStore) -> None:
    store.apply(FlagUpdate(category_overrides={"json": "candidate", "math": "baseline"}, reason="pin"), actor="t")
    flags = store.apply(FlagUpdate(category_overrides={"json": None}, reason="unpin"), actor="t")
    assert {k: v.value for k, v in flags.category_overrides.items()} == {"math": "baseline"}


def test_a_write_blocked_by_a_lock_fails_within_its_deadline_and_never_lands(tmp_path: Path) -> None:
    """SQLite's lock wait is the write deadline (not the driver's 10 s busy timeout); nothing lands afterwards."""
    import sqlite3

    from flags.deadlines import StoreTimeouts
    from flags.store import StoreTimedOut

    store = FlagStore(f"sqlite:///{tmp_path / 'flags.db'}", StoreTimeouts(write_deadline_s=1.0))
    store.ensure_schema()
    holder = sqlite3.connect(tmp_path / "flags.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreTimedOut, match="locked by another writer: no lock within 1 s"):
        store.apply(FlagUpdate(rollout_percent=50, reason="blocked"), "ops")
    holder.execute("ROLLBACK")
    holder.close()
    assert store.snapshot().rollout_percent == 0 and [e.reason for e in store.audit()] == ["initial flag set"]
    # The lock wait a write runs under is the write deadline, not the driver's 10 s (checked without a clock).
    from sqlalchemy import text

    with store.transaction(write=True) as session:
        assert session.connection().execute(text("PRAGMA busy_timeout")).scalar() == 1000
