"""Typed gateway errors; `gateway.app` maps every one of them to an OpenAI-style error body in one place."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError


def validation_message(exc: ValidationError) -> str:
    """Every problem of a pydantic validation error as `field.path: message`, joined by semicolons."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


class GatewayError(Exception):
    """Base of every error a client may see; carries the HTTP status and OpenAI error fields."""

    status_code = 500
    error_type = "internal_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        """OpenAI-style error object, as vLLM and the OpenAI API return it."""
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param,
                          "code": self.code or self.status_code}}

    def body_bytes(self) -> bytes:
        """The error body, serialized."""
        return orjson.dumps(self.body())

    def media_type(self) -> str:
        """Content type of `body_bytes`."""
        return "application/json"


class InvalidRequest(GatewayError):
    """The client's request cannot be proxied as sent."""

    status_code = 400
    error_type = "invalid_request_error"


class RequestTooLarge(InvalidRequest):
    """Body over the configured size limit."""

    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")


class RequestTimeout(InvalidRequest):
    """The client did not finish sending its request in time."""

    status_code = 408

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"request body not received within {timeout_s:g} s")


class UnsupportedMediaType(InvalidRequest):
    """A body in a content type the endpoint does not read."""

    status_code = 415


class ModelNotFound(GatewayError):
    """The client named a model this gateway does not serve."""

    # As vLLM answers it: the integer status in `code`, like every other error of this gateway.
    status_code = 404
    error_type = "NotFoundError"


class Unauthorized(GatewayError):
    """Missing or wrong admin token."""

    status_code = 401
    error_type = "authentication_error"


class TooManyAttempts(GatewayError):
    """Too many failed logins or bearer tokens from one client address lately."""

    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ValidationFailed(GatewayError):
    """Well-formed JSON whose values are not acceptable; nothing was written."""

    status_code = 422
    error_type = "invalid_request_error"


class Conflict(GatewayError):
    """An optimistic-concurrency check failed."""

    status_code = 409
    error_type = "conflict_error"


class RolloutRefused(Conflict):
    """The pre-ship gate refused a change that would give an unvalidated candidate more traffic."""

    code = "rollout_gated"

    def __init__(self, message: str, decision: dict[str, Any]) -> None:
        super().__init__(message)
        self.decision = decision

    def body(self) -> dict[str, Any]:
        """The OpenAI-style error plus what the gate found missing."""
        body = super().body()
        body["error"]["gate"] = self.decision
        return body


class StoreUnavailable(GatewayError):
    """The flag store cannot take writes right now."""

    status_code = 503
    error_type = "service_unavailable"


class ShuttingDown(GatewayError):
    """The gateway's drain time ran out while this request was still being answered."""

    status_code = 503
    error_type = "service_unavailable"

    def __init__(self, drain_timeout_s: float) -> None:
        super().__init__(f"the gateway is shutting down and its drain time ({drain_timeout_s:g} s) ran out before "
                         "this answer ended; retry the request")


class RouteError(GatewayError):
    """Unknown path or method, raised by the router."""

    error_type = "invalid_request_error"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status


class UpstreamFailure(GatewayError):
    """A backend failed before answering; candidates fail over to the baseline on these."""

    status_code = 502
    error_type = "upstream_error"
    reason = "error"

    def __init__(self, message: str, *, variant: str) -> None:
        super().__init__(message)
        self.variant = variant


class UpstreamUnavailable(UpstreamFailure):
    """Could not connect to the backend."""

    reason = "connect"


class UpstreamTimeout(UpstreamFailure):
    """The backend did not answer in time."""

    status_code = 504
    reason = "timeout"


class UpstreamServerError(UpstreamFailure):
    """The backend answered 5xx; its body is passed on when it is the final answer."""

    reason = "status_5xx"

    def __init__(self, message: str, *, variant: str, status: int, body: bytes, content_type: str) -> None:
        super().__init__(message, variant=variant)
        self.status_code = status
        self.upstream_body = body
        self.content_type = content_type

    def body_bytes(self) -> bytes:
        """The backend's own error body when it sent one."""
        return self.upstream_body or super().body_bytes()

    def media_type(self) -> str:
        """The backend's content type when its body is passed on."""
        return self.content_type if self.upstream_body else "application/json"


def error_response_parts(exc: Exception, request_id: str | None,
                         variant: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The one mapping from an exception to (status, headers, body) for every endpoint."""
    if not isinstance(exc, GatewayError):
        exc = GatewayError("internal gateway error")
    headers = [(b"content-type", exc.media_type().encode("latin-1"))]
    if isinstance(exc, RequestTimeout):
        # The rest of a slow body may still be on its way: do not read it as the next request.
        headers.append((b"connection", b"close"))
    if isinstance(exc, TooManyAttempts):
        headers.append((b"retry-after", str(exc.retry_after_s).encode("latin-1")))
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    if variant:
        headers.append((b"x-quantgate-variant", variant.encode("latin-1")))
    return exc.status_code, headers, exc.body_bytes()


class ClientGone(Exception):
    """The client disconnected; nothing is left to answer."""
