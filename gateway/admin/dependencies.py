"""What every admin handler depends on: the worker's runtime, the bearer token check, the acting person."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flags.model import MAX_ACTOR_CHARS
from gateway.runtime import GatewayRuntime
from wire.errors import Unauthorized

DEFAULT_ACTOR = "admin-api"

# auto_error=False: a missing header is our 401 with an OpenAI-style body, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="QUANTGATE_ADMIN_TOKEN (none when the admin port is loopback-only)")


def runtime_of(request: Request) -> GatewayRuntime:
    """The worker's runtime, set on the app at start-up."""
    runtime: GatewayRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[GatewayRuntime, Depends(runtime_of)]


def admin_token_ok(runtime: GatewayRuntime, given: str) -> bool:
    """Whether `given` is the admin token, compared in constant time (the API's bearer and the console's login)."""
    expected = runtime.settings.admin_token
    if expected is None:
        # Only reachable when the admin surface is bound to loopback (enforced at start-up).
        return True
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def require_admin(runtime: Runtime,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Refuse a request without the admin bearer token (when one is configured)."""
    given = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    if not admin_token_ok(runtime, given):
        raise Unauthorized("missing or invalid admin bearer token")


def actor_of(request: Request, given: str | None) -> str:
    """Who made a change: the body's actor, else the X-Quantgate-Actor header (bounded), else the API's name."""
    header = request.headers.get("x-quantgate-actor", "")[:MAX_ACTOR_CHARS]
    return given or header or DEFAULT_ACTOR
