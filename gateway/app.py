"""App factory: routes, lifespan (upstream clients, flag polling), and the one place errors become bodies."""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from flags.model import Variant
from gateway.access_log import configure_access_log, logged
from gateway.admin.app import create_control_plane
from gateway.feedback.endpoint import feedback_route
from gateway.proxy.endpoint import CompletionProxy
from gateway.relative_redirects import RelativeRedirects
from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from wire.endpoints import COMPLETION_ENDPOINTS
from wire.errors import GatewayError, RouteError, error_response_parts
from wire.tracing import tracing_from_environment

log = logging.getLogger("quantgate.gateway")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class Surface(str, Enum):
    """Which endpoints an app instance serves: the admin API can live on its own port."""

    PUBLIC = "public"
    ADMIN = "admin"
    ALL = "all"


class AdminTokenRequired(RuntimeError):
    """Refuse to expose an unauthenticated admin surface beyond loopback."""


def _error_response(request: Request, exc: Exception) -> Response:
    state = request.scope.get("state", {})
    extra_headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, HTTPException):
        # Starlette's 405 names the allowed methods (RFC 9110 requires the Allow header).
        extra_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()
                         if k.lower() != "allow"]
        if exc.status_code == 405:
            extra_headers.append((b"allow", ", ".join(_allowed_methods(request)).encode("latin-1")))
        exc = RouteError(exc.status_code, str(exc.detail))
    elif not isinstance(exc, GatewayError):
        log.error("unhandled error", exc_info=exc)
    status, headers, body = error_response_parts(exc, state.get("request_id"), state.get("variant"))
    response = Response(body, status_code=status)
    response.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-type"] + headers + extra_headers
    return response


def _version() -> str:
    try:
        return importlib.metadata.version("quantgate")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette's 405 names only the first route's.

    Asked per method through `BaseRoute.matches`, so routers FastAPI nests are asked too.
    """
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in request.app.router.routes)]


class GatewayAsgi:
    """Pure ASGI front door: the completion paths bypass Starlette's middleware stack.

    Each Starlette middleware wraps `send`, and a streamed answer calls `send` once per event;
    the health, admin and metrics routes keep the full Starlette app.
    """

    def __init__(self, app: Starlette, proxies: dict[str, CompletionProxy], access_log: bool = False) -> None:
        self.app = RelativeRedirects(app)
        self.proxies = proxies
        self.state = app.state
        self.access_log = access_log
        if access_log:
            configure_access_log()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.access_log and scope["type"] == "http":
            await logged(self._route, scope, receive, send)
        else:
            await self._route(scope, receive, send)

    async def _route(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            proxy = self.proxies.get(scope["path"])
            if proxy is not None:
                await proxy(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _public_routes(runtime: GatewayRuntime) -> list[BaseRoute]:
    settings = runtime.settings
    created = int(time.time())

    async def models(_: Request) -> Response:
        # The baseline's own card (vLLM's max_model_len, root, parent, permission) under the public name.
        card = next((c.model_card for c in runtime.backend_checks
                     if c.variant == Variant.BASELINE.value and c.model_card), None)
        entry = {"object": "model", "created": created, "owned_by": "quantgate", **(card or {}),
                 "id": settings.public_model_name}
        return JSONResponse({"object": "list", "data": [entry]})

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
            "flag_store_reachable": cache.store_up(),
            "flag_store_staleness_s": None if staleness == float("inf") else round(staleness, 3),
            "flag_store_error": cache.last_error,
            "serving_last_known_flags": cache.loaded and not cache.store_up(),
            "baseline_reachable": baseline_ok,
            # Warnings only: a backend that differs from its stamp still serves, but must be re-validated.
            "backend_checks": [check.as_dict() for check in runtime.backend_checks],
            # The pre-ship gate: warnings only (a stack that changed since its validation serves, frozen).
            "validation": runtime.validation.as_dict(),
        }
        return JSONResponse(body, status_code=200 if body["ready"] else 503)

    return [
        Route("/v1/models", models, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        # vLLM's liveness path: GuideLLM and other vLLM-style clients probe it before they run.
        Route("/health", healthz, methods=["GET"]),
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


def create_app(settings: GatewaySettings, surface: Surface = Surface.ALL,
               tracer_provider: TracerProvider | None = None) -> GatewayAsgi:
    """Build the gateway ASGI app; upstream clients and flag polling live in its lifespan.

    Tracing uses `tracer_provider` when given, else the standard OTEL_* variables, else stays off.
    """
    check_admin_exposure(settings, surface)
    runtime = GatewayRuntime.build(settings, tracer_provider or tracing_from_environment())
    routes: list[BaseRoute] = []
    proxies: dict[str, CompletionProxy] = {}
    if surface is not Surface.ADMIN:
        proxies = {path: CompletionProxy(runtime, endpoint, path) for endpoint, path in COMPLETION_ENDPOINTS.items()}
        # Registered on the router too, so a GET there is a clean 405 rather than a 404.
        routes += [Route(path, proxy, methods=["POST"]) for path, proxy in proxies.items()]
        routes += _public_routes(runtime)
        routes.append(feedback_route(runtime.feedback_tokens, runtime.feedback_writer, runtime.policy.feedback,
                                     settings.client_body_timeout_s))
    if surface is not Surface.PUBLIC:
        if surface is Surface.ADMIN:
            routes.append(Route("/healthz", _admin_healthz, methods=["GET"]))
    routes.append(_metrics_route(runtime))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start(serves_traffic=surface is not Surface.ADMIN)
        try:
            yield
        finally:
            await runtime.stop()

    app = create_control_plane(routes, lifespan, _error_response, with_admin=surface is not Surface.PUBLIC,
                               version=_version())
    for kind in (GatewayError, HTTPException, Exception):
        app.add_exception_handler(kind, _error_response)
    app.state.runtime = runtime
    return GatewayAsgi(app, proxies, access_log=settings.access_log)
