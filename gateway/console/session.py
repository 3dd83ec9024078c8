"""The console's login sessions: kept in the store, named by a random cookie, revocable.

The cookie holds only a random id (`HttpOnly`, `SameSite=Strict`, `Secure` over https); the store keeps its hash,
who logged in, a per-session CSRF token, and a fingerprint of the admin token it was opened under. Logging out
revokes the row, so a copied cookie stops working at once; a session idle past the idle timeout, older than its
maximum age, or opened under another admin token is refused in every worker and replica alike.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from pydantic import SecretStr

from flags.access import ConsoleSessionRow

COOKIE = "quantgate_console"
# Who the audit log names: "console:" and what the person typed, bounded and printable.
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A logged-in person, as the pages see them."""

    actor: str
    key: str
    csrf: str

    @classmethod
    def of(cls, row: ConsoleSessionRow) -> ConsoleSession:
        """The page's view of a stored session."""
        return cls(row.actor, row.id_sha256, row.csrf_token)

    def csrf_ok(self, given: str | None) -> bool:
        """Whether a form's token is this session's (compared in constant time, as bytes: it is client input)."""
        return bool(given) and hmac.compare_digest(str(given).encode("utf-8", "replace"), self.csrf.encode())


def token_fingerprint(admin_token: SecretStr | None) -> str:
    """What a session remembers of the admin token it was opened under (a new token ends older sessions)."""
    if admin_token is None:
        return "no-admin-token"
    return hashlib.sha256(b"quantgate-console-session-v2:" + admin_token.get_secret_value().encode()).hexdigest()
