"""GET /admin/validations and /admin/validations/{id}: the pre-ship gate's records and their cards."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from evals.card import card_markdown
from flags.store import FlagStoreUnavailable
from gateway.admin import check_token
from gateway.runtime import GatewayRuntime
from wire.errors import InvalidRequest, RouteError, StoreUnavailable


class ValidationsApi:
    """Read-only: records are written by `quantgate validate`."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.runtime = runtime

    async def list(self, request: Request) -> Response:
        """Newest first, with the record in force for this deployment and this worker's view of it."""
        check_token(self.runtime, request)
        raw = request.query_params.get("limit", "20")
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 1000):
            raise InvalidRequest("limit must be an integer between 1 and 1000", param="limit")
        try:
            rows = await asyncio.to_thread(self.runtime.store.validations, int(raw))
            in_force = await asyncio.to_thread(self.runtime.store.validation_in_force,
                                               self.runtime.validation.context())
        except FlagStoreUnavailable as exc:
            raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
        return JSONResponse({"validations": [row.as_dict() for row in rows],
                             "in_force": in_force.as_dict() if in_force else None,
                             "state": self.runtime.validation.as_dict()})

    async def show(self, request: Request) -> Response:
        """One record: summary, full results and the disclosure card (Markdown)."""
        check_token(self.runtime, request)
        raw = request.path_params["validation_id"]
        if not (raw.isascii() and raw.isdigit() and int(raw) < 2**63):
            raise InvalidRequest("validation id must be a non-negative 64-bit integer", param="validation_id")
        try:
            found = await asyncio.to_thread(self.runtime.store.validation, int(raw))
        except FlagStoreUnavailable as exc:
            raise StoreUnavailable(f"flag store unavailable: {exc}") from exc
        if found is None:
            raise RouteError(404, f"no validation {raw}")
        summary, result = found
        return JSONResponse({"validation": summary.as_dict(), "result": result,
                             "card_markdown": card_markdown(summary.as_dict(), result)})

    def routes(self) -> list[BaseRoute]:
        """Starlette routes."""
        return [Route("/admin/validations", self.list, methods=["GET"]),
                Route("/admin/validations/{validation_id}", self.show, methods=["GET"])]
