"""The control-plane application: FastAPI with the admin routers, error bodies mapped once, OpenAPI served."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.routing import BaseRoute

from gateway.admin import comparisons_router, flags_router, validations_router, verdicts_router
from gateway.admin.dependencies import single_valued_query
from gateway.admin.docs import OPENAPI_URL, add_self_hosted_docs
from gateway.admin.openapi import admin_openapi
from wire.errors import InvalidRequest

ROUTERS = (flags_router.router, comparisons_router.router, verdicts_router.router, validations_router.router)


def invalid_parameter(exc: RequestValidationError) -> InvalidRequest:
    """A query or path parameter FastAPI refused, as our 400 naming the parameter."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = str(first["loc"][-1]) if first["loc"] else None
    message = "; ".join(f"{e['loc'][-1] if e['loc'] else 'request'}: {e['msg']}" for e in errors[:5])
    return InvalidRequest(message or "invalid request", param=param)


def create_control_plane(routes: Sequence[BaseRoute], lifespan: Any, error_handler: Callable[..., Any],
                         with_admin: bool, version: str) -> FastAPI:
    """The app behind every path except the completion paths; the admin routers when `with_admin`."""
    app = FastAPI(title="quantgate admin API", version=version, routes=list(routes), lifespan=lifespan,
                  description="Rollout flags, one-call rollback, audit trail, shadow comparisons, regression "
                              "verdicts and pre-ship validations of a quantized model next to its baseline.",
                  openapi_url=OPENAPI_URL if with_admin else None, docs_url=None, redoc_url=None)
    if with_admin:
        for router in ROUTERS:
            # A repeated query parameter is refused, not read as its last value.
            app.include_router(router, dependencies=[Depends(single_valued_query)])
        add_self_hosted_docs(app)
        # The console's pages (server-rendered, their own login) live beside the API on the admin surface.
        from gateway.console.router import ConsoleError, LoginRequired, console_error_page, login_redirect, static_files
        from gateway.console.router import router as console_router

        app.include_router(console_router)
        app.mount("/console/static", static_files(), name="console-static")
        app.add_exception_handler(ConsoleError, console_error_page)  # type: ignore[arg-type]
        app.add_exception_handler(LoginRequired, login_redirect)  # type: ignore[arg-type]

        def openapi() -> dict[str, Any]:
            return admin_openapi(app)

        app.openapi = openapi  # type: ignore[method-assign]

    async def validation_error(request: Any, exc: RequestValidationError) -> Any:
        return error_handler(request, invalid_parameter(exc))

    app.add_exception_handler(RequestValidationError, validation_error)
    return app
