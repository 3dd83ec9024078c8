"""What a completion request is to the gateway: its body checked, its routing key, category and ids."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.routing import CategoryLabels, raw_category, routing_key
from gateway.settings import RequestBounds
from wire.asgi import media_type
from wire.errors import InvalidRequest, ModelNotFound, UnsupportedMediaType

_TRACE_HEADERS = (b"traceparent", b"tracestate")
# Request ids: a random per-process prefix and a counter (uuid4 costs a getrandom syscall per request).
_ID_PREFIX = uuid.uuid4().hex[:20]
_ID_COUNTER = itertools.count()
CLIENT_CLOSED = "499"
# Requests the gateway answers itself (bad input) are counted under this variant: no backend saw them.
REJECTED_VARIANT = "gateway"


def next_request_id() -> str:
    """A unique 32-hex-digit request id."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


@dataclass(slots=True)
class ProxyRequest:
    """One client request as the gateway understood it."""

    request_id: str
    endpoint: str
    path: str
    payload: dict[str, Any]
    stream: bool
    client_wants_usage: bool
    routing_key: str
    category: str
    trace_headers: list[tuple[str, str]]
    started: float


def parse_payload(body: bytes) -> dict[str, Any]:
    """The JSON object body, with the fields the gateway itself reads type-checked."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object", param="stream_options")
    for name in ("model", "user"):
        if name in payload and not isinstance(payload[name], str | None):
            raise InvalidRequest(f"'{name}' must be a string", param=name)
    return payload


def check_content_type(headers: dict[bytes, bytes]) -> None:
    """As vLLM: a body sent as form data or text is refused, not guessed at. No header at all is read as JSON."""
    content_type = headers.get(b"content-type")
    if content_type is None:
        return
    media = media_type(content_type)
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"content-type must be application/json, got {media!r}")


def check_bounds(payload: dict[str, Any], bounds: RequestBounds) -> None:
    """Refuse counts a backend would spend a whole machine on; a missing field is the backend's default."""
    limits = (("n", bounds.max_n), ("best_of", bounds.max_best_of), ("max_tokens", bounds.max_tokens),
              ("max_completion_tokens", bounds.max_tokens))
    for name, limit in limits:
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"'{name}' must be an integer", param=name)
        if not 1 <= value <= limit:
            raise InvalidRequest(f"'{name}' must be between 1 and {limit} on this gateway, got {value}", param=name)


@dataclass(frozen=True, slots=True)
class RequestReader:
    """Turns one endpoint's raw requests into `ProxyRequest`s (the models it answers to, the category labels)."""

    endpoint: str
    path: str
    public_model: str
    accepted_models: frozenset[str]
    categories: CategoryLabels
    bounds: RequestBounds

    def read(self, headers: dict[bytes, bytes], body: bytes, request_id: str, started: float) -> ProxyRequest:
        """The request understood, or a typed 4xx error saying why not."""
        payload = parse_payload(body)
        model = payload.get("model")
        if model is None:
            raise InvalidRequest(f"'model' is required: this gateway serves `{self.public_model}`", param="model")
        if model not in self.accepted_models:
            raise ModelNotFound(f"The model `{model}` does not exist; this gateway serves `{self.public_model}`.",
                                param="model")
        check_bounds(payload, self.bounds)
        options = payload.get("stream_options") or {}
        trace_headers = [(name.decode(), value.decode("latin-1")) for name in _TRACE_HEADERS
                         if (value := headers.get(name)) is not None]
        return ProxyRequest(
            request_id=request_id, endpoint=self.endpoint, path=self.path, payload=payload,
            stream=bool(payload.get("stream")), client_wants_usage=bool(options.get("include_usage")),
            routing_key=routing_key(headers, payload, request_id),
            category=self.categories.label(raw_category(headers, payload)),
            trace_headers=trace_headers, started=started,
        )
