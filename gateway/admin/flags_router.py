"""/admin/flags, /admin/rollback, /admin/audit: read and change the rollout flags; every change is audited."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from flags.gate import RolloutGated
from flags.model import FlagSet
from flags.store import FlagStoreUnavailable, StaleFlagVersion
from flags.updates import FlagUpdate, RollbackRequest
from gateway.admin.body import body_schema, parse_body
from gateway.admin.dependencies import Runtime, actor_of, require_admin
from gateway.admin.schemas import AuditTrail, AuthFailures, Flags, FlagsRead, error_responses
from gateway.runtime import GatewayRuntime
from wire.errors import Conflict, RolloutRefused, StoreUnavailable

router = APIRouter(prefix="/admin", tags=["flags"], dependencies=[Depends(require_admin)])


async def apply_update(runtime: GatewayRuntime, update: FlagUpdate, actor: str) -> FlagSet:
    """Write one update through the pre-ship gate and into this worker's cache at once."""
    gated = update.rollout_percent is not None or update.category_overrides or update.rollback is False
    if gated and runtime.validation.enabled:
        # It may expose more users to the candidate: judge it on the backends as they are now. A rollback
        # never waits for this.
        await runtime.refresh_backends()
    try:
        await asyncio.to_thread(runtime.store.ensure_schema)
        flags = await asyncio.to_thread(runtime.store.apply, update, actor, runtime.validation.context())
    except RolloutGated as exc:
        raise RolloutRefused(f"rollout refused by the pre-ship gate, nothing was changed: {exc}",
                             exc.decision.as_dict()) from exc
    except StaleFlagVersion as exc:
        raise Conflict(str(exc)) from exc
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"flag store unavailable, nothing was changed: {exc}") from exc
    runtime.flags.accept(flags)
    return flags


async def current_flags(runtime: GatewayRuntime) -> tuple[FlagSet, str]:
    """The flags and where they came from: the store, else this worker's last known copy, else safe defaults."""
    cache = runtime.flags
    try:
        # A first read may come before any worker created the initial row: create it rather than report version 0.
        await asyncio.to_thread(runtime.store.ensure_schema)
        return await asyncio.to_thread(runtime.store.snapshot), "store"
    except FlagStoreUnavailable:
        return cache.flags, "last_known" if cache.loaded else "safe_default"


# Links let a stateful client (schemathesis) chain a read into a conditional write, and a write into a stale one.
_CONDITIONAL_WRITE = {"operationId": "put_flags",
                      "requestBody": {"expected_version": "$response.body#/version", "reason": "conditional write"}}


@router.get("/flags", response_model=FlagsRead, operation_id="get_flags",
            responses={**error_responses(), 200: {"links": {"UpdateAtThisVersion": _CONDITIONAL_WRITE}}})
async def get_flags(runtime: Runtime) -> dict[str, Any]:
    """The flags in the store, or this worker's last known copy when the store is down."""
    flags, source = await current_flags(runtime)
    return {**flags.as_dict(), "source": source}


@router.put("/flags", response_model=Flags, openapi_extra=body_schema(FlagUpdate), operation_id="put_flags",
            responses={**error_responses(400, 409, 413, 415, 422, 503),
                       200: {"links": {"UpdateAtThisVersion": _CONDITIONAL_WRITE}}})
async def put_flags(request: Request, runtime: Runtime) -> dict[str, Any]:
    """A partial update with a reason; invalid input writes nothing. `expected_version` makes it conditional."""
    update = await parse_body(request, FlagUpdate, runtime.settings.client_body_timeout_s)
    return (await apply_update(runtime, update, actor_of(request, update.actor))).as_dict()


@router.post("/rollback", response_model=Flags, operation_id="rollback", openapi_extra=body_schema(RollbackRequest),
             responses=error_responses(400, 413, 415, 422, 503))
async def rollback(request: Request, runtime: Runtime) -> dict[str, Any]:
    """Send every request to the baseline, now (never gated)."""
    body = await parse_body(request, RollbackRequest, runtime.settings.client_body_timeout_s)
    update = FlagUpdate(rollback=True, reason=body.reason, actor=body.actor)
    return (await apply_update(runtime, update, actor_of(request, body.actor))).as_dict()


@router.get("/audit", response_model=AuditTrail, operation_id="audit", responses=error_responses(400, 503))
async def audit(runtime: Runtime, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                flag: Annotated[str | None, Query(max_length=64, description="only changes of this flag")] = None,
                ) -> dict[str, Any]:
    """The audit trail, newest first."""
    try:
        entries = await asyncio.to_thread(runtime.store.audit, limit, flag)
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
    return {"entries": [entry.as_dict() for entry in entries]}


@router.get("/audit/auth-failures", response_model=AuthFailures, operation_id="auth_failures",
            responses=error_responses(400, 503))
async def auth_failures(runtime: Runtime, limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    """Refused logins and bearer tokens (console and API), newest first: who tried, from where, when."""
    try:
        failures = await asyncio.to_thread(runtime.access.failures, limit)
    except FlagStoreUnavailable as exc:
        raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
    return {"failures": [failure.as_dict() for failure in failures]}
