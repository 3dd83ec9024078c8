"""/admin/comparisons: hunt which prompts flipped, in which category, and read one comparison whole."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from flags.comparisons import (
    FLIP_COLUMNS,
    ComparisonQuery,
    ComparisonStoreError,
    ShadowComparisonRow,
    row_detail,
    row_summary,
    safe,
)
from flags.store import FlagStoreUnavailable
from gateway.admin.dependencies import Runtime, actor_of, require_admin
from gateway.admin.schemas import ComparisonDetail, ComparisonPage, error_responses
from gateway.admin.time_params import RECORD_ID_PATTERN, TIME_HELP, parse_record_id, parse_time
from gateway.runtime import GatewayRuntime
from wire.errors import RouteError, StoreUnavailable

router = APIRouter(prefix="/admin", tags=["comparisons"], dependencies=[Depends(require_admin)])
# The flip kinds the store can filter by, as the query parameter's enum.
FLIP_KINDS = tuple(FLIP_COLUMNS)
RECORD_ID = Path(alias="id", pattern=RECORD_ID_PATTERN, description="a stored comparison's id")


@router.get("/comparisons", response_model=ComparisonPage, operation_id="list_comparisons",
            responses={**error_responses(400, 503), 200: {"links": {"ShowFirst": {
                "operationId": "show_comparison", "parameters": {"id": "$response.body#/comparisons/0/id"}}}}})
async def list_comparisons(
    runtime: Runtime,
    since: Annotated[str | None, Query(max_length=64, description=TIME_HELP)] = None,
    until: Annotated[str | None, Query(max_length=64, description=TIME_HELP)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    flips_only: Annotated[bool, Query(description="only pairs where a refusal, format, repetition or language "
                                                  "flipped")] = False,
    flip: Annotated[Literal[FLIP_KINDS] | None,
                    Query(description="only pairs where this detector flipped")] = None,
    similarity_min: Annotated[float | None, Query(ge=0, le=1)] = None,
    similarity_max: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Stored shadow comparisons, newest first."""
    query = ComparisonQuery(since=parse_time(since, "since"), until=parse_time(until, "until"),
                            category=category or None, flips_only=flips_only, flip=flip,
                            similarity_min=similarity_min, similarity_max=similarity_max, limit=limit, offset=offset)
    try:
        total, rows = await asyncio.to_thread(safe, runtime.comparisons.query, query)
    except ComparisonStoreError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return {"total": total, "limit": query.limit, "offset": query.offset,
            "comparisons": [row_summary(row) for row in rows]}


@router.get("/comparisons/{id}", response_model=ComparisonDetail, operation_id="show_comparison",
            responses=error_responses(400, 404, 503))
async def show_comparison(request: Request, runtime: Runtime,
                          record_id: Annotated[str, RECORD_ID]) -> dict[str, Any]:
    """One comparison with both judgements, stamps and (when stored) texts; a read of texts is audited first."""
    number = parse_record_id(record_id)
    try:
        row = await asyncio.to_thread(safe, runtime.comparisons.get, number)
    except ComparisonStoreError as exc:
        raise StoreUnavailable(str(exc)) from exc
    if row is None:
        raise RouteError(404, f"no comparison with id {number}")
    await audit_text_read(runtime, row, actor_of(request, None), "admin-api")
    return row_detail(row)


async def audit_text_read(runtime: GatewayRuntime, row: ShadowComparisonRow, actor: str, surface: str) -> None:
    """Record who reads a pair's stored texts before they are shown (API and console); a read that cannot be
    recorded is refused with a 503, so no text leaves unaudited."""
    if row.prompt_text is None and row.baseline_text is None and row.candidate_text is None:
        return
    assert row.id is not None  # read from the store
    try:
        await asyncio.to_thread(runtime.store.record_read, actor, "comparison", row.id, surface)
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"this read cannot be audited, so the texts are withheld: {exc}") from exc
