"""Deadlines on every store operation, enforced on both ends of the connection.

A database server that stops answering without closing the connection (a hung primary, a partition
that drops packets, SIGSTOP) never trips a server-side timeout, and TCP keeps the socket open: a
driver call would block until the server wakes. So each operation is watched from this side too:
past its deadline the socket is shut down, the blocked call fails at once, and the pool drops the
connection. Server-side, PostgreSQL gets statement, lock and idle-in-transaction timeouts, and a
write carries an absolute deadline that a deferred trigger checks inside COMMIT, so a write the
caller was told had failed cannot commit when the server wakes up later.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the settings import this module; SQLAlchemy loads with the store, not with them
    from sqlalchemy.engine import Connection


# The name of the transaction-local setting the write-deadline trigger reads.
WRITE_DEADLINE_SETTING = "quantgate.write_deadline"


class StoreTimeouts(BaseModel):
    """Timeouts of flag-store operations (seconds)."""

    connect_timeout_s: float = Field(default=3.0, ge=1, le=60)
    statement_timeout_s: float = Field(default=2.0, gt=0, le=60)
    lock_timeout_s: float = Field(default=1.0, gt=0, le=60)
    # An admin write either commits within this or is refused by the database at COMMIT.
    write_deadline_s: float = Field(default=5.0, gt=0, le=60)
    # How long the caller keeps waiting past the write deadline before it reports the failure: covers the
    # commit's own flush and clock skew between this host and the database (NTP keeps it to milliseconds).
    write_margin_s: float = Field(default=1.0, ge=0.1, le=30)

    def postgres_connect_args(self) -> dict[str, Any]:
        """libpq parameters: connect timeout, server-side timeouts, and keepalives for a silent network."""
        ms = {name: int(value * 1000) for name, value in (
            ("statement_timeout", self.statement_timeout_s), ("lock_timeout", self.lock_timeout_s),
            ("idle_in_transaction_session_timeout", max(self.write_deadline_s + self.write_margin_s, 10.0)))}
        options = " ".join(f"-c {name}={value}" for name, value in ms.items())
        return {"connect_timeout": max(2, round(self.connect_timeout_s)), "options": options,
                "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                "tcp_user_timeout": int((self.statement_timeout_s + self.connect_timeout_s) * 1000)}

    def read_deadline_s(self) -> float:
        """Client-side limit of one read: the server's statement timeout plus a round trip's slack."""
        return self.statement_timeout_s + 0.5

    def write_deadline(self) -> tuple[datetime, float]:
        """(absolute deadline the database enforces, seconds the caller waits before giving up)."""
        return datetime.now(UTC) + timedelta(seconds=self.write_deadline_s), self.write_deadline_s + self.write_margin_s


def _socket_of(conn: Connection) -> int | None:
    dbapi = conn.connection.dbapi_connection
    pgconn = getattr(dbapi, "pgconn", None)  # psycopg 3; SQLite has no socket and its own busy timeout
    fd = getattr(pgconn, "socket", None) if pgconn is not None else None
    return fd if isinstance(fd, int) and fd >= 0 else None


class SocketDeadline:
    """Shuts a connection's socket down if the operation on it outlives `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._timer: threading.Timer | None = None

    def arm(self, conn: Connection) -> None:
        """Start watching the connection (no-op for a connection without a socket)."""
        self._fd = _socket_of(conn)
        if self._fd is not None:
            self._timer = threading.Timer(self.seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """The operation ended: the socket is left alone from here on."""
        with self._lock:
            self._fd = None
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            self.fired = True
            try:
                # A duplicate descriptor: shutdown reaches the shared socket, close leaves the driver's fd valid.
                sock = socket.socket(fileno=os.dup(self._fd))
            except OSError:
                return
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                sock.close()


@contextmanager
def socket_deadline(conn: Connection, seconds: float) -> Iterator[SocketDeadline]:
    """Watch `conn` for `seconds`; the watch ends when the block does."""
    deadline = SocketDeadline(seconds)
    deadline.arm(conn)
    try:
        yield deadline
    finally:
        deadline.disarm()
