"""Who may use the control plane: console sessions kept server-side, and failed logins per client address.

A session is a row keyed by the SHA-256 of the random id its cookie holds (the database never sees the cookie), so
logging out revokes it everywhere at once, and an idle session expires. A session remembers a fingerprint of the
admin token it was opened under: a deployment with a new token refuses every older session. Failed logins and bearer
checks are rows too: the audit of who tried, and the count a throttle reads, the same for every worker and replica.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, func, select

from flags.model import MAX_ACTOR_CHARS

MAX_CLIENT_CHARS = 64


class ConsoleSessionRow(SQLModel, table=True):
    """One console login."""

    __tablename__ = "quantgate_console_session"

    id_sha256: str = Field(primary_key=True, max_length=64)
    actor: str
    csrf_token: str
    token_fingerprint: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


class AuthFailureRow(SQLModel, table=True):
    """One refused login or bearer token (or an attempt refused unread because of earlier ones)."""

    __tablename__ = "quantgate_auth_failure"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    client: str = Field(index=True)
    surface: str  # "admin-api" or "console"
    detail: str


def session_key(cookie_id: str) -> str:
    """What the database stores of a session id: its SHA-256 (a leaked table opens no session)."""
    return hashlib.sha256(cookie_id.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: the cookie's value (shown once) and what the store keeps."""

    cookie_id: str
    row: ConsoleSessionRow


def new_session(actor: str, fingerprint: str, now: datetime, max_age: timedelta) -> OpenedSession:
    """A fresh random session for `actor` (already checked), valid at most `max_age`."""
    cookie_id = secrets.token_urlsafe(32)
    row = ConsoleSessionRow(id_sha256=session_key(cookie_id), actor=actor[:MAX_ACTOR_CHARS],
                            csrf_token=secrets.token_urlsafe(24), token_fingerprint=fingerprint, created_at=now,
                            last_seen_at=now, expires_at=now + max_age)
    return OpenedSession(cookie_id, row)


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A failure as the console and the API show it."""

    id: int
    at: datetime
    client: str
    surface: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {"id": self.id, "at": self.at.isoformat(), "client": self.client, "surface": self.surface,
                "detail": self.detail}


def add_failure(session: Session, at: datetime, client: str, surface: str, detail: str) -> None:
    """Append one failure (the address bounded: it comes from the connection, or a proxy's header)."""
    session.add(AuthFailureRow(at=at, client=client[:MAX_CLIENT_CHARS], surface=surface, detail=detail[:200]))


def failures_since(session: Session, client: str, since: datetime) -> int:
    """How many failures `client` had since `since`."""
    query = select(func.count()).select_from(AuthFailureRow).where(
        AuthFailureRow.client == client[:MAX_CLIENT_CHARS], col(AuthFailureRow.at) >= since)
    return int(session.exec(query).one())


def newest_failures(session: Session, limit: int) -> list[AuthFailure]:
    """Newest failures first."""
    rows = session.exec(select(AuthFailureRow).order_by(col(AuthFailureRow.id).desc()).limit(limit)).all()
    return [AuthFailure(row.id or 0, row.at, row.client, row.surface, row.detail) for row in rows]
