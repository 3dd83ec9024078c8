"""Admin API: read and change flags, one-call rollback, audit trail; bearer-token protected."""

from __future__ import annotations

import asyncio
import hmac

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flags.gate import RolloutGated
from flags.store import FlagStoreUnavailable, StaleFlagVersion
from flags.updates import FlagUpdate, RollbackRequest
from gateway.runtime import GatewayRuntime
from wire.asgi import media_type, read_body
from wire.errors import (
    Conflict,
    InvalidRequest,
    RequestTooLarge,
    RolloutRefused,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    validation_message,
)

DEFAULT_ACTOR = "admin-api"
# A flag update is a few hundred bytes; anything near this is not one.
MAX_ADMIN_BODY = 64 * 1024


def check_token(runtime: GatewayRuntime, request: Request) -> None:
    expected = runtime.settings.admin_token
    if expected is None:
        # Only reachable when the admin surface is bound to loopback (enforced at start-up).
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("missing or invalid admin bearer token")


async def read_admin_body(request: Request, timeout_s: float) -> bytes:
    """The JSON body of an admin write, refused early when it is not JSON or larger than the limit."""
    media = media_type(request.headers.get("content-type"))
    if media != "application/json":
        raise UnsupportedMediaType(f"admin writes take application/json, got {media or 'no content-type'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_ADMIN_BODY:
        raise RequestTooLarge(MAX_ADMIN_BODY)
    return await read_body(request.receive, MAX_ADMIN_BODY, timeout_s)


async def _parse(request: Request, model: type[BaseModel], timeout_s: float) -> BaseModel:
    body = await read_admin_body(request, timeout_s)
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from exc
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ValidationFailed(validation_message(exc)) from exc


def _actor(request: Request, given: str | None) -> str:
    return given or request.headers.get("x-quantgate-actor") or DEFAULT_ACTOR


class AdminApi:
    """The admin endpoints of one worker; writes go to the store and into this worker's cache at once."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.runtime = runtime

    async def _apply(self, update: FlagUpdate, actor: str) -> Response:
        gated = update.rollout_percent is not None or update.category_overrides or update.rollback is False
        if gated and self.runtime.validation.enabled:
            # It may expose more users to the candidate: judge it on the backends as they are now. A rollback
            # never waits for this.
            await self.runtime.refresh_backends()
        try:
            await asyncio.to_thread(self.runtime.store.ensure_schema)
            flags = await asyncio.to_thread(self.runtime.store.apply, update, actor,
                                            self.runtime.validation.context())
        except RolloutGated as exc:
            raise RolloutRefused(f"rollout refused by the pre-ship gate, nothing was changed: {exc}",
                                 exc.decision.as_dict()) from exc
        except StaleFlagVersion as exc:
            raise Conflict(str(exc)) from exc
        except FlagStoreUnavailable as exc:
            raise StoreUnavailable(f"flag store unavailable, nothing was changed: {exc}") from exc
        self.runtime.flags.accept(flags)
        return JSONResponse(flags.as_dict())

    async def get_flags(self, request: Request) -> Response:
        """GET /admin/flags: the flags in the store (or this worker's last known copy when it is down)."""
        check_token(self.runtime, request)
        cache = self.runtime.flags
        try:
            flags = await asyncio.to_thread(self.runtime.store.snapshot)
            source = "store"
        except FlagStoreUnavailable:
            flags, source = cache.flags, "last_known" if cache.loaded else "safe_default"
        return JSONResponse({**flags.as_dict(), "source": source})

    async def put_flags(self, request: Request) -> Response:
        """PUT /admin/flags: validated partial update; invalid input writes nothing."""
        check_token(self.runtime, request)
        update = await _parse(request, FlagUpdate, self.runtime.settings.client_body_timeout_s)
        assert isinstance(update, FlagUpdate)
        return await self._apply(update, _actor(request, update.actor))

    async def rollback(self, request: Request) -> Response:
        """POST /admin/rollback: send every request to the baseline, now."""
        check_token(self.runtime, request)
        body = await _parse(request, RollbackRequest, self.runtime.settings.client_body_timeout_s)
        assert isinstance(body, RollbackRequest)
        update = FlagUpdate(rollback=True, reason=body.reason, actor=body.actor)
        return await self._apply(update, _actor(request, body.actor))

    async def audit(self, request: Request) -> Response:
        """GET /admin/audit?limit=N&flag=NAME: newest first."""
        check_token(self.runtime, request)
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError as exc:
            raise InvalidRequest("limit must be an integer", param="limit") from exc
        if not 1 <= limit <= 10_000:
            raise InvalidRequest("limit must be between 1 and 10000", param="limit")
        try:
            entries = await asyncio.to_thread(self.runtime.store.audit, limit, request.query_params.get("flag"))
        except FlagStoreUnavailable as exc:
            raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
        return JSONResponse({"entries": [entry.as_dict() for entry in entries]})

    def routes(self) -> list[BaseRoute]:
        """Starlette routes of the admin surface."""
        return [
            Route("/admin/flags", self.get_flags, methods=["GET"]),
            Route("/admin/flags", self.put_flags, methods=["PUT"]),
            Route("/admin/rollback", self.rollback, methods=["POST"]),
            Route("/admin/audit", self.audit, methods=["GET"]),
        ]
