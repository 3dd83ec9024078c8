"""Admin API over stored shadow comparisons: hunt which prompts flipped, in which category."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flags.comparisons import ComparisonQuery, ComparisonStoreError, row_detail, row_summary, safe
from gateway.admin import check_token
from gateway.runtime import GatewayRuntime
from wire.errors import InvalidRequest, RouteError, StoreUnavailable

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_MAX_LOOKBACK = timedelta(days=3660)
_RECORD_ID = re.compile(r"^[0-9]{1,19}$")
_MAX_RECORD_ID = 2**63 - 1


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


def parse_record_id(raw: str) -> int:
    """A stored record's id: plain ASCII digits that fit the database's 64-bit integer."""
    if not _RECORD_ID.match(raw) or int(raw) > _MAX_RECORD_ID:
        raise InvalidRequest(f"id must be a positive integer below 2^63, got {raw[:32]!r}", param="id")
    return int(raw)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an integer", param=name) from exc
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}", param=name)
    return value


class ComparisonsApi:
    """GET /admin/comparisons and GET /admin/comparisons/{id}."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.runtime = runtime

    async def list(self, request: Request) -> Response:
        """Filters: since, until, category, flips_only, limit, offset; newest first."""
        check_token(self.runtime, request)
        params = request.query_params
        flips = params.get("flips_only", "false").lower()
        if flips not in ("true", "false", "1", "0"):
            raise InvalidRequest("flips_only must be true or false", param="flips_only")
        query = ComparisonQuery(
            since=parse_time(params.get("since"), "since"), until=parse_time(params.get("until"), "until"),
            category=params.get("category") or None, flips_only=flips in ("true", "1"),
            limit=_int_param(request, "limit", 50, 1, 1000), offset=_int_param(request, "offset", 0, 0, 10**9),
        )
        try:
            total, rows = await asyncio.to_thread(safe, self.runtime.comparisons.query, query)
        except ComparisonStoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return JSONResponse({"total": total, "limit": query.limit, "offset": query.offset,
                             "comparisons": [row_summary(row) for row in rows]})

    async def show(self, request: Request) -> Response:
        """One comparison with both judgements, stamps and (when stored) texts."""
        check_token(self.runtime, request)
        raw_id = request.path_params["record_id"]
        record_id = parse_record_id(raw_id)
        try:
            row = await asyncio.to_thread(safe, self.runtime.comparisons.get, record_id)
        except ComparisonStoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        if row is None:
            raise RouteError(404, f"no comparison with id {raw_id}")
        return JSONResponse(row_detail(row))

    def routes(self) -> list[BaseRoute]:
        """Starlette routes."""
        return [Route("/admin/comparisons", self.list, methods=["GET"]),
                Route("/admin/comparisons/{record_id}", self.show, methods=["GET"])]
