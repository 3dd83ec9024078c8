"""Engines for the store's databases: SQLite set up for several worker processes, PostgreSQL with timeouts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import create_engine

from flags.deadlines import StoreTimeouts

_SQLITE_BUSY_TIMEOUT_MS = 10_000
# Pooled SQLite connections are reopened this often, so a replaced or vanished file is noticed within
# seconds while the 4-per-second version poll skips the connect + PRAGMAs (~10x its own cost).
_SQLITE_RECYCLE_S = 5


def _configure_sqlite(engine: Engine) -> None:
    """WAL + busy_timeout, and let us choose BEGIN IMMEDIATE for writes so workers never deadlock."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so the "begin" hook below decides the locking mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in url


def make_engine(url: str, timeouts: StoreTimeouts | None = None) -> Engine:
    """Engine for the flag store; SQLite gets the settings several worker processes need.

    With `timeouts`, a PostgreSQL session gets server-side statement and lock timeouts (migrations run
    without them: an index build may take longer than any flag read).
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
            **({} if _in_memory(url) else {"pool_size": 2, "max_overflow": 4, "pool_recycle": _SQLITE_RECYCLE_S}),
        )
        _configure_sqlite(engine)
        return engine
    if make_url(url).get_backend_name() != "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2)
    limits = timeouts or StoreTimeouts()
    connect_args = limits.postgres_connect_args() if timeouts else {"connect_timeout": 10}
    # No pool_pre_ping: SQLAlchemy's ping cannot be bounded; FlagStore pings under its own deadline instead.
    return create_engine(url, pool_size=2, max_overflow=2, pool_timeout=limits.read_deadline_s(),
                         connect_args=connect_args)


class SchemaNotMigrated(RuntimeError):
    """A server database (PostgreSQL) is behind this version's schema: run `quantgate db upgrade`."""


def ensure_migrated(engine: Engine) -> None:
    """SQLite is migrated on the spot; a server database must already be at head (an explicit step)."""
    from flags.migrate import current_revision, head_revision, upgrade

    if engine.dialect.name == "sqlite":
        if current_revision(engine) != head_revision():
            upgrade(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotMigrated(f"database schema is at {current or 'nothing'}, this version needs {head}: "
                                "run `quantgate db upgrade`")
