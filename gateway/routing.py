"""Who a request belongs to: its routing key (stickiness) and its category (the slice it is judged in)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from wire.errors import InvalidRequest

OTHER_CATEGORY = "other"
DEFAULT_CATEGORY = "default"
_VALID_CATEGORY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class CategoryLabels:
    """Bounds the category label; a client can never take the operator's categories' label slots.

    With an allow-list (`categories`), anything else is 'other'. Without one, the reserved names (the policy's
    categories) are always their own label, and at most `limit` further names get one, first come; later
    unknown names share 'other', and each such request is counted by `on_overflow`.
    """

    def __init__(self, allowed: list[str], limit: int, reserved: list[str] | None = None,
                 on_overflow: Callable[[], None] | None = None) -> None:
        self._allowed = frozenset(allowed)
        self._reserved = frozenset(reserved or ()) | {DEFAULT_CATEGORY}
        self._seen: set[str] = set()
        self._limit = limit
        self._on_overflow = on_overflow

    def label(self, raw: str | None) -> str:
        """The category label to use for a raw client-supplied value."""
        if not raw:
            return DEFAULT_CATEGORY
        if self._allowed:
            if raw in self._allowed or raw == DEFAULT_CATEGORY:
                return raw
            return self._overflow()
        if raw in self._reserved or raw in self._seen:
            return raw
        if not _VALID_CATEGORY.fullmatch(raw) or len(self._seen) >= self._limit:
            return self._overflow()
        self._seen.add(raw)
        return raw

    def known(self) -> tuple[str, ...]:
        """The labels that exist whatever clients send: the allow-list or reserved names, 'default', 'other'."""
        return tuple(sorted(self._allowed | self._reserved | {OTHER_CATEGORY}))

    def _overflow(self) -> str:
        if self._on_overflow is not None:
            self._on_overflow()
        return OTHER_CATEGORY


Headers = dict[bytes, bytes]
# Client-chosen identifiers are echoed in headers, logged and hashed: bounded, printable ASCII only.
MAX_REQUEST_ID = 128
MAX_ROUTING_KEY = 256
_PRINTABLE_ID = re.compile(rb"^[\x21-\x7e]+$")


def request_id_from(headers: Headers, new_id: Callable[[], str]) -> tuple[str, str | None]:
    """The client's x-request-id when it is sane, else a new one with the reason the client's was refused."""
    given = headers.get(b"x-request-id")
    if not given:
        return new_id(), None
    if len(given) > MAX_REQUEST_ID or not _PRINTABLE_ID.match(given):
        return new_id(), f"x-request-id must be 1 to {MAX_REQUEST_ID} printable ASCII characters"
    return given.decode("ascii"), None


def routing_key(headers: Headers, payload: dict[str, Any], request_id: str) -> str:
    """Header x-quantgate-key, else the body's `user`, else the request id; refuses oversized keys."""
    key = headers.get(b"x-quantgate-key")
    if key:
        if len(key) > MAX_ROUTING_KEY:
            raise InvalidRequest(f"x-quantgate-key is longer than {MAX_ROUTING_KEY} bytes")
        return key.decode("latin-1")
    user = payload.get("user")
    if isinstance(user, str) and user:
        if len(user) > MAX_ROUTING_KEY:
            raise InvalidRequest(f"'user' is longer than {MAX_ROUTING_KEY} characters", param="user")
        return user
    return request_id


def raw_category(headers: Headers, payload: dict[str, Any]) -> str | None:
    """Header x-quantgate-category, else body metadata.category."""
    category = headers.get(b"x-quantgate-category")
    if category:
        return category.decode("latin-1")
    metadata = payload.get("metadata")
    if isinstance(metadata, dict):
        value = metadata.get("category")
        if isinstance(value, str):
            return value
    return None
