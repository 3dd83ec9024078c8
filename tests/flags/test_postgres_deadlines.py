"""A frozen PostgreSQL (SIGSTOP: sockets open, nothing answers): every store call ends by its deadline, and a
write the caller was told had failed never lands when the server wakes up."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from bench.postgres import PostgresServer
from flags.deadlines import StoreTimeouts
from flags.store import FlagStore, FlagStoreUnavailable
from flags.updates import FlagUpdate

FAST = StoreTimeouts(connect_timeout_s=2, statement_timeout_s=0.5, lock_timeout_s=0.5, write_deadline_s=1,
                     write_margin_s=0.5)


@pytest.fixture
def pg(pg_server: PostgresServer) -> PostgresServer:
    return pg_server


def _fresh(url: str) -> FlagStore:
    store = FlagStore(url)
    store.ensure_schema()
    return store


def test_reads_on_a_frozen_server_fail_by_their_deadline(pg: PostgresServer) -> None:
    store = FlagStore(pg.url, FAST)
    store.ensure_schema()
    pg.freeze()
    try:
        with pytest.raises(FlagStoreUnavailable, match="did not answer within 1 s"):
            store.current_version()
        with pytest.raises(FlagStoreUnavailable):
            store.snapshot()
    finally:
        pg.thaw()
    assert store.current_version() == 1  # the dropped connection was replaced, nothing else to do


def test_a_commit_after_the_write_deadline_is_refused_by_the_database(pg: PostgresServer) -> None:
    store = FlagStore(pg.url, StoreTimeouts(write_deadline_s=0.2, write_margin_s=5))
    store.ensure_schema()

    @event.listens_for(store.engine, "commit")
    def _late_commit(_conn: object) -> None:
        threading.Event().wait(0.5)  # the COMMIT reaches the server after the deadline the writer set

    with pytest.raises(FlagStoreUnavailable, match="write deadline .* passed before COMMIT"):
        store.apply(FlagUpdate(rollout_percent=50, reason="too late"), "ops")
    flags = _fresh(pg.url).snapshot()
    assert (flags.version, flags.rollout_percent) == (1, 0.0)


def test_a_write_frozen_at_commit_never_lands_after_the_caller_was_told_it_failed(pg: PostgresServer) -> None:
    store = FlagStore(pg.url, FAST)
    store.ensure_schema()
    thawed = threading.Event()

    @event.listens_for(store.engine, "commit")
    def _freeze_before_commit(_conn: object) -> None:
        # The server stops with the UPDATE done and the COMMIT about to arrive in its socket buffer.
        pg.freeze()
        threading.Timer(4.0, lambda: (pg.thaw(), thawed.set())).start()

    with pytest.raises(FlagStoreUnavailable, match="cannot land later"):
        store.apply(FlagUpdate(rollout_percent=50, reason="during the freeze"), "ops")
    event.remove(store.engine, "commit", _freeze_before_commit)
    assert thawed.wait(10)
    # Awake, the server read the COMMIT that was waiting for it, ran the deadline check, and rolled back.
    reader = _fresh(pg.url)
    flags = reader.snapshot()
    assert (flags.version, flags.rollout_percent) == (1, 0.0)
    assert [e.reason for e in reader.audit()] == ["initial flag set"]
