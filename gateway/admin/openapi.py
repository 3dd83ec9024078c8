"""The admin OpenAPI document, with the pure-ASGI completion routes described next to the admin routers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from flags.updates import FlagUpdate, RollbackRequest
from gateway.admin.openai_models import ChatCompletion, ChatCompletionRequest, Completion, CompletionRequest
from gateway.admin.schemas import ErrorBody

REF = "#/components/schemas/{model}"
# Read by hand (see body.py), so FastAPI does not see them: their schemas are added here.
BODY_MODELS: tuple[type[BaseModel], ...] = (FlagUpdate, RollbackRequest)
PROXY_ROUTES = {"/v1/chat/completions": (ChatCompletionRequest, ChatCompletion, "Chat completion"),
                "/v1/completions": (CompletionRequest, Completion, "Text completion")}
PROXY_NOTE = ("Served on the public port by the pure-ASGI proxy (not by this FastAPI app, which would cost "
              "throughput on streams); bodies pass to vLLM as sent. With `stream: true` the answer is "
              "`text/event-stream`. Header `X-Quantgate-Variant` says which backend answered.")


def _proxy_operation(request: type[BaseModel], response: type[BaseModel], summary: str) -> dict[str, Any]:
    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": REF.format(model=model.__name__)}

    errors = {str(status): {"description": text, "content": {"application/json": {"schema": ref(ErrorBody)}}}
              for status, text in ((400, "Bad request"), (404, "Unknown model"), (413, "Body too large"),
                                   (502, "Backend failed"), (503, "Shutting down"), (504, "Backend timed out"))}
    return {"post": {
        "tags": ["completions (public port)"], "summary": summary, "description": PROXY_NOTE,
        "operationId": f"proxy_{summary.lower().replace(' ', '_')}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref(request)}}},
        "responses": {"200": {"description": summary, "content": {
            "application/json": {"schema": ref(response)},
            "text/event-stream": {"schema": {"type": "string"}}}}, **errors}}}


def admin_openapi(app: FastAPI, with_proxy_routes: bool = True) -> dict[str, Any]:
    """Build (once) the OpenAPI document of the admin routers plus hand-read bodies and the proxy routes."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    extra: list[type[BaseModel]] = [*BODY_MODELS, ErrorBody]
    if with_proxy_routes:
        for request, response, _ in PROXY_ROUTES.values():
            extra += [request, response]
    _, definitions = models_json_schema([(model, "validation") for model in extra], ref_template=REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        components.setdefault(name, definition)
    if with_proxy_routes:
        for path, (request, response, summary) in PROXY_ROUTES.items():
            schema["paths"][path] = _proxy_operation(request, response, summary)
    app.openapi_schema = schema
    return schema
