"""Console sessions and failed logins, read and written in the flag store's database under its deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, update

from flags.access import (
    AuthFailure,
    ConsoleSessionRow,
    OpenedSession,
    add_failure,
    failures_since,
    new_session,
    newest_failures,
    session_key,
)
from flags.model import utcnow
from flags.store import FlagStore


class AccessStore:
    """Sessions and auth failures beside the flags (same database, same timeouts, same schema migrations)."""

    def __init__(self, store: FlagStore) -> None:
        self.store = store

    def open_session(self, actor: str, fingerprint: str, max_age: timedelta) -> OpenedSession:
        """Store a new session; returns it with the cookie id (which the store never keeps)."""
        self.store.ensure_schema()
        opened = new_session(actor, fingerprint, utcnow(), max_age)
        with self.store.transaction(write=True) as session:
            session.add(opened.row)
        return opened

    def live_session(self, cookie_id: str, fingerprint: str, idle: timedelta,
                     touch_after: timedelta = timedelta(seconds=60)) -> ConsoleSessionRow | None:
        """The session a cookie names if it is open, unexpired, not idle too long and of this admin token.

        Its last-seen time moves on at most once per `touch_after`, so reading pages is not a write each.
        """
        if not cookie_id or len(cookie_id) > 256:
            return None
        now = utcnow()
        with self.store.transaction(write=False) as session:
            row = session.get(ConsoleSessionRow, session_key(cookie_id))
            if row is None:
                return None
            session.expunge(row)
        if (row.revoked_at is not None or row.expires_at <= now or row.last_seen_at + idle <= now
                or row.token_fingerprint != fingerprint):
            return None
        if now - row.last_seen_at >= touch_after:
            with self.store.transaction(write=True) as session:
                session.exec(update(ConsoleSessionRow).where(  # type: ignore[call-overload]
                    col(ConsoleSessionRow.id_sha256) == row.id_sha256).values(last_seen_at=now))
        return row

    def revoke(self, id_sha256: str, reason: str) -> None:
        """End a session everywhere (logout)."""
        with self.store.transaction(write=True) as session:
            session.exec(update(ConsoleSessionRow).where(  # type: ignore[call-overload]
                col(ConsoleSessionRow.id_sha256) == id_sha256, col(ConsoleSessionRow.revoked_at).is_(None),
            ).values(revoked_at=utcnow(), revoked_reason=reason))

    def record_failure(self, client: str, surface: str, detail: str) -> None:
        """Audit one failed login or bearer check."""
        self.store.ensure_schema()
        with self.store.transaction(write=True) as session:
            add_failure(session, utcnow(), client, surface, detail)

    def failures_since(self, client: str, since: datetime) -> int:
        """Failures of one client address since `since` (every worker's and replica's)."""
        self.store.ensure_schema()
        with self.store.transaction(write=False) as session:
            return failures_since(session, client, since)

    def failures(self, limit: int = 100) -> list[AuthFailure]:
        """Newest failures first."""
        with self.store.transaction(write=False) as session:
            return newest_failures(session, limit)
