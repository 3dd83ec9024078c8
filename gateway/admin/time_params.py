"""Query parameters shared by the read endpoints: points in time and record ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from wire.errors import InvalidRequest

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_MAX_LOOKBACK = timedelta(days=3660)
# Also the path parameters' pattern in the OpenAPI document: one definition of a record id.
RECORD_ID_PATTERN = r"^[0-9]{1,19}$"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)
_MAX_RECORD_ID = 2**63 - 1
TIME_HELP = "ISO-8601, or a duration back from now such as 30m, 24h, 7d (at most 10 years)"


def parse_time(value: str | None, name: str) -> datetime | None:
    """ISO-8601 timestamp, or a duration back from now such as 30m, 24h, 7d."""
    if value is None or value == "":
        return None
    problem = f"{name} must be ISO-8601 or a duration like 24h (at most 10 years back), got {value[:64]!r}"
    if len(value) > 64:
        raise InvalidRequest(problem, param=name)
    match = _RELATIVE.match(value.strip())
    try:
        if match:
            back = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
            if back > _MAX_LOOKBACK:
                raise InvalidRequest(problem, param=name)
            return datetime.now(UTC) - back
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(problem, param=name) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_record_id(raw: str, name: str = "id") -> int:
    """A stored record's id: plain ASCII digits that fit the database's 64-bit integer."""
    if not _RECORD_ID.match(raw) or int(raw) > _MAX_RECORD_ID:
        raise InvalidRequest(f"{name} must be a non-negative integer below 2^63, got {raw[:32]!r}", param=name)
    return int(raw)
