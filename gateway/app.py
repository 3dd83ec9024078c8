"""App factory: routes, lifespan (upstream clients, flag polling), and the one place errors become bodies."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flags.model import Variant
from gateway.admin import AdminApi
from gateway.errors import GatewayError
from gateway.proxy import CompletionProxy
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings

log = logging.getLogger("quantgate.gateway")


class Surface(str, Enum):
    """Which endpoints an app instance serves: the admin API can live on its own port."""

    PUBLIC = "public"
    ADMIN = "admin"
    ALL = "all"


class AdminTokenRequired(RuntimeError):
    """Refuse to expose an unauthenticated admin surface beyond loopback."""


def _error_response(request: Request, exc: Exception) -> Response:
    state = request.scope.get("state", {})
    headers = {}
    if request_id := state.get("request_id"):
        headers["x-request-id"] = request_id
    if variant := state.get("variant"):
        headers["x-quantgate-variant"] = variant
    if isinstance(exc, GatewayError):
        return Response(exc.body_bytes(), status_code=exc.status_code, headers=headers,
                        media_type=getattr(exc, "content_type", "application/json"))
    if isinstance(exc, HTTPException):
        body = {"error": {"message": exc.detail, "type": "invalid_request_error", "param": None,
                          "code": exc.status_code}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    log.exception("unhandled error", exc_info=exc)
    body = {"error": {"message": "internal gateway error", "type": "internal_error", "param": None, "code": 500}}
    return JSONResponse(body, status_code=500, headers=headers)


def _public_routes(runtime: GatewayRuntime) -> list[BaseRoute]:
    settings = runtime.settings
    created = int(time.time())

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": settings.public_model_name, "object": "model", "created": created, "owned_by": "quantgate"}]})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        cache = runtime.flags
        baseline_ok = await runtime.backends[Variant.BASELINE].probe()
        staleness = cache.staleness_s()
        body = {
            "ready": cache.loaded and baseline_ok,
            "flags_loaded": cache.loaded,
            "flags_version": cache.flags.version,
            "flag_store_reachable": cache.store_reachable,
            "flag_store_staleness_s": None if staleness == float("inf") else round(staleness, 3),
            "flag_store_error": cache.last_error,
            "serving_last_known_flags": cache.loaded and not cache.store_reachable,
            "baseline_reachable": baseline_ok,
        }
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    return [
        Route("/v1/chat/completions", CompletionProxy(runtime, "chat", "/v1/chat/completions"), methods=["POST"]),
        Route("/v1/completions", CompletionProxy(runtime, "completions", "/v1/completions"), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


async def _admin_healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _metrics_route(runtime: GatewayRuntime) -> BaseRoute:
    async def metrics(request: Request) -> Response:
        body, content_type = runtime.metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return Route("/metrics", metrics, methods=["GET"])


def check_admin_exposure(settings: GatewaySettings, surface: Surface) -> None:
    """Raise when the admin API would be reachable beyond loopback without a token."""
    if surface is not Surface.PUBLIC and settings.admin_token is None and not settings.admin_is_loopback_only():
        raise AdminTokenRequired(
            f"admin API would listen on {settings.admin_bind_host()} without a token: "
            "set QUANTGATE_ADMIN_TOKEN or bind the admin surface to loopback")


def create_app(settings: GatewaySettings, surface: Surface = Surface.ALL) -> Starlette:
    """Build the gateway ASGI app; upstream clients and flag polling live in its lifespan."""
    check_admin_exposure(settings, surface)
    runtime = GatewayRuntime.build(settings)
    routes: list[BaseRoute] = []
    if surface is not Surface.ADMIN:
        routes += _public_routes(runtime)
    if surface is not Surface.PUBLIC:
        routes += AdminApi(runtime).routes()
        if surface is Surface.ADMIN:
            routes.append(Route("/healthz", _admin_healthz, methods=["GET"]))
    routes.append(_metrics_route(runtime))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={GatewayError: _error_response, HTTPException: _error_response,
                                        Exception: _error_response})
    app.state.runtime = runtime
    return app
