"""Admin request bodies: JSON only, bounded, validated by the model before anything is written.

The body is read by hand rather than by FastAPI's parameter so that a wrong media type is a 415 and an oversized
body a 413 (FastAPI would call both a 422); `body_schema` puts the same model into the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError

from wire.asgi import media_type, read_body
from wire.errors import InvalidRequest, RequestTooLarge, UnsupportedMediaType, ValidationFailed, validation_message

# A flag update is a few hundred bytes; anything near this is not one.
MAX_ADMIN_BODY = 64 * 1024
Model = TypeVar("Model", bound=BaseModel)


async def read_admin_body(request: Request, timeout_s: float) -> bytes:
    """The JSON body of an admin write, refused early when it is not JSON or larger than the limit."""
    media = media_type(request.headers.get("content-type"))
    if media != "application/json":
        raise UnsupportedMediaType(f"admin writes take application/json, got {media or 'no content-type'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_ADMIN_BODY:
        raise RequestTooLarge(MAX_ADMIN_BODY)
    return await read_body(request.receive, MAX_ADMIN_BODY, timeout_s)


async def parse_body(request: Request, model: type[Model], timeout_s: float) -> Model:
    """Read and validate one admin body: 400 when it is not JSON, 422 when it does not fit the model."""
    body = await read_admin_body(request, timeout_s)
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}") from exc
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ValidationFailed(validation_message(exc)) from exc


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for an operation whose body is read by `parse_body`."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}
