"""/admin/validations: the pre-ship gate's records and their disclosure cards (written by `quantgate validate`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from flags.store import FlagStoreUnavailable
from gateway.admin.dependencies import Runtime, require_admin
from gateway.admin.schemas import ValidationDetail, ValidationList, error_responses
from gateway.admin.time_params import RECORD_ID_PATTERN, parse_record_id
from wire.errors import RouteError, StoreUnavailable

router = APIRouter(prefix="/admin", tags=["validations"], dependencies=[Depends(require_admin)])
VALIDATION_ID = Path(pattern=RECORD_ID_PATTERN, description="a validation record's id")


@router.get("/validations", response_model=ValidationList, operation_id="list_validations",
            responses={**error_responses(400, 503), 200: {"links": {"ShowNewest": {
                "operationId": "show_validation",
                "parameters": {"validation_id": "$response.body#/validations/0/id"}}}}})
async def list_validations(runtime: Runtime, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> dict[str, Any]:
    """Newest first, with the record in force for this deployment and this worker's view of it."""
    try:
        rows = await asyncio.to_thread(runtime.store.validations, limit)
        in_force = await asyncio.to_thread(runtime.store.validation_in_force, runtime.validation.context())
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
    return {"validations": [row.as_dict() for row in rows], "in_force": in_force.as_dict() if in_force else None,
            "state": runtime.validation.as_dict()}


@router.get("/validations/{validation_id}", response_model=ValidationDetail,
            operation_id="show_validation", responses=error_responses(400, 404, 503))
async def show_validation(runtime: Runtime, validation_id: Annotated[str, VALIDATION_ID]) -> dict[str, Any]:
    """One record: summary, full results and the disclosure card (Markdown)."""
    number = parse_record_id(validation_id, "validation_id")
    try:
        found = await asyncio.to_thread(runtime.store.validation, number)
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
    if found is None:
        raise RouteError(404, f"no validation {number}")
    summary, result = found
    from evals.card import card_markdown  # the card renderer loads with the first card asked for

    return {"validation": summary.as_dict(), "result": result,
            "card_markdown": card_markdown(summary.as_dict(), result)}
