"""What every admin handler depends on: the worker's runtime, the bearer token check, the acting person."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flags.model import MAX_ACTOR_CHARS
from gateway.runtime import GatewayRuntime
from wire.errors import InvalidRequest, Unauthorized, ValidationFailed
from wire.terminal_text import control_characters_in

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


def single_valued_query(request: Request) -> None:
    """Refuse a query parameter given twice: every admin parameter is one value, and reading the last one would
    answer a question the client did not ask."""
    keys = request.query_params.keys()
    repeated = sorted({key for key in keys if len(request.query_params.getlist(key)) > 1})
    if repeated:
        raise InvalidRequest(f"query parameter {repeated[0]!r} given more than once", param=repeated[0])


def client_address(request: Request) -> str:
    """The peer's address, as the throttle and the failure audit name it."""
    return request.client.host if request.client else "unknown"


async def require_admin(request: Request, runtime: Runtime,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Refuse a request without the admin bearer token (when one is configured); failures are throttled per
    client address and audited."""
    if runtime.settings.admin_token is None:
        return
    client = client_address(request)
    await runtime.throttle.check(client)
    given = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    if not admin_token_ok(runtime, given):
        await runtime.throttle.failed(client, "admin-api", "missing bearer token" if not given
                                      else "wrong bearer token")
        raise Unauthorized("missing or invalid admin bearer token")


def actor_of(request: Request, given: str | None) -> str:
    """Who made a change: the body's actor, else the X-Quantgate-Actor header (bounded), else the API's name."""
    header = request.headers.get("x-quantgate-actor", "")[:MAX_ACTOR_CHARS].strip()
    if header and not given:
        found = control_characters_in(header)
        if found:
            raise ValidationFailed(f"X-Quantgate-Actor holds control characters ({', '.join(found)}): nothing was "
                                   "changed", param="x-quantgate-actor")
    return given or header or DEFAULT_ACTOR
