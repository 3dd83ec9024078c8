"""Who a request belongs to: its routing key (stickiness) and its category (the slice it is judged in)."""

from __future__ import annotations

import re
from typing import Any

OTHER_CATEGORY = "other"
DEFAULT_CATEGORY = "default"
_VALID_CATEGORY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class CategoryLabels:
    """Bounds the category label: an allow-list, or the first `limit` names seen; the rest become 'other'."""

    def __init__(self, allowed: list[str], limit: int) -> None:
        self._allowed = frozenset(allowed)
        self._seen: set[str] = set()
        self._limit = limit

    def label(self, raw: str | None) -> str:
        """The category label to use for a raw client-supplied value."""
        if not raw:
            return DEFAULT_CATEGORY
        if self._allowed:
            return raw if raw in self._allowed or raw == DEFAULT_CATEGORY else OTHER_CATEGORY
        if raw in self._seen:
            return raw
        if not _VALID_CATEGORY.match(raw) or len(self._seen) >= self._limit:
            return OTHER_CATEGORY
        self._seen.add(raw)
        return raw


Headers = dict[bytes, bytes]


def routing_key(headers: Headers, payload: dict[str, Any], request_id: str) -> str:
    """Header x-quantgate-key, else the body's `user`, else the request id."""
    key = headers.get(b"x-quantgate-key")
    if key:
        return key.decode("latin-1")
    user = payload.get("user")
    if isinstance(user, str) and user:
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
