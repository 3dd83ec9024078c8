"""The console's login session and CSRF tokens: signed, stateless, the same in every worker.

A session is a cookie holding who logged in, when it expires and a random nonce, signed with HMAC-SHA256 under a
key derived from the admin token (every worker derives the same key; changing the token logs everyone out). The
CSRF token of a session is the HMAC of its nonce: forms carry it, and a POST without it is refused, on top of the
cookie's SameSite=Strict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

COOKIE = "quantgate_console"
MAX_AGE_S = 8 * 3600
# Who the audit log names: "console:" and what the person typed, bounded and printable.
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A logged-in person."""

    actor: str
    expires: int
    nonce: str


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"quantgate-console-session-v1", hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, name: str, now: float | None = None) -> tuple[str, ConsoleSession]:
        """A new session for `name` (already checked against NAME) and its cookie value."""
        session = ConsoleSession(f"console:{name}", int((now or time.time()) + MAX_AGE_S), secrets.token_urlsafe(16))
        payload = base64.urlsafe_b64encode(json.dumps(
            {"a": session.actor, "e": session.expires, "n": session.nonce}).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}", session

    def read(self, cookie: str | None, now: float | None = None) -> ConsoleSession | None:
        """The session a cookie holds, or None when absent, tampered with or expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        payload, mac = cookie.split(".")
        # Bytes: a cookie is client input, and compare_digest refuses non-ASCII str.
        if not hmac.compare_digest(mac.encode(), self._mac(payload.encode()).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            session = ConsoleSession(str(data["a"]), int(data["e"]), str(data["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (now or time.time()) else None

    def csrf_token(self, session: ConsoleSession) -> str:
        """The token every form of this session carries."""
        return self._mac(f"csrf:{session.nonce}".encode())

    def csrf_ok(self, session: ConsoleSession, given: str | None) -> bool:
        """Whether a form's token belongs to this session."""
        return bool(given) and hmac.compare_digest(str(given).encode(), self.csrf_token(session).encode())
