"""The simulator's HTTP surface: OpenAI chat/completions (stream or not), models, health, metrics, control."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.generation import SimAnswer, SimRequest, generate
from simulator.profile import ControlUpdate, SimulatorConfig
from simulator.protocol import sampling_fields
from simulator.scoring import chat_tokens, prompt_logprobs
from wire.asgi import header_value, read_body, run_unless_disconnected
from wire.errors import ClientGone

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
# What vLLM reports as `system_fingerprint`: runtime and config, so a client can tell when the stack changed.
SYSTEM_FINGERPRINT = "quantgate-simulator"


class SimulatorStats:
    """Counters the tests and the demo read back (also exported on /metrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("simulator_requests", "Requests received.", ("endpoint", "stream"),
                                registry=self.registry)
        self.aborted = Counter("simulator_aborted_requests", "Requests whose client went away before the end.",
                               ("endpoint",), registry=self.registry)
        self.completed = Counter("simulator_completed_requests", "Requests answered to the end.", ("endpoint",),
                                 registry=self.registry)
        self.in_flight = Gauge("simulator_requests_in_flight", "Requests being generated.", registry=self.registry)
        self.shadow = Counter("simulator_shadow_requests", "Requests marked as shadow traffic.",
                              registry=self.registry)
        # The W3C trace context of the latest request, to check that callers propagate it.
        self.last_traceparent: str | None = None

    def totals(self) -> dict[str, float]:
        """Sum of each counter over its labels."""
        out: dict[str, float] = {}
        for name, counter in (("requests", self.requests), ("aborted", self.aborted),
                              ("completed", self.completed), ("shadow", self.shadow)):
            out[name] = sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
        out["in_flight"] = self.in_flight._value.get()  # noqa: SLF001 - prometheus_client has no public getter
        return out


def _lognormal(median_ms: float, sigma: float) -> float:
    if median_ms <= 0:
        return 0.0
    return median_ms / 1000 * math.exp(sigma * random.gauss(0, 1))


def _error(status: int, message: str, kind: str = "BadRequestError") -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": status}},
                        status_code=status)


def _prompt_text(payload: dict[str, Any], chat: bool) -> str:
    if not chat:
        prompt = payload.get("prompt")
        if isinstance(prompt, list):
            return "\n".join(str(p) for p in prompt)
        if not isinstance(prompt, str):
            raise ValueError("'prompt' must be a string or a list of strings")
        return prompt
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    parts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(f"{message.get('role', 'user') if isinstance(message, dict) else 'user'}: {content or ''}")
    return "\n".join(parts)


def _sim_request(payload: dict[str, Any], chat: bool, header_category: str | None, default_max: int) -> SimRequest:
    fields = sampling_fields(payload)
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    fmt = fields.response_format
    return SimRequest(
        prompt=_prompt_text(payload, chat), seed=fields.seed,
        max_tokens=fields.max_completion_tokens or fields.max_tokens or default_max, min_tokens=fields.min_tokens,
        category=header_category or str(metadata.get("category") or "default"),
        response_format=fmt.model_dump(by_alias=True, exclude_none=True) if fmt else None,
    )


class CompletionEndpoint:
    """Raw ASGI endpoint for /v1/chat/completions and /v1/completions."""

    def __init__(self, state: SimulatorState, chat: bool) -> None:
        self.state = state
        self.chat = chat
        self.endpoint = "chat" if chat else "completions"
        self.object_name = "chat.completion" if chat else "text_completion"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body = await read_body(receive, 16 * 1024 * 1024)
        except ClientGone:
            return
        try:
            payload = orjson.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            request = _sim_request(payload, self.chat, header_value(scope, b"x-quantgate-category"),
                                   self.state.config.default_max_tokens)
        except (ValueError, orjson.JSONDecodeError) as exc:
            await _error(400, str(exc))(scope, receive, send)
            return
        config = self.state.config
        model = payload.get("model")
        if model not in (None, config.served_model_name):
            await _error(404, f"The model `{model}` does not exist.", "NotFoundError")(scope, receive, send)
            return
        stream = bool(payload.get("stream"))
        stats = self.state.stats
        stats.requests.labels(self.endpoint, str(stream).lower()).inc()
        if header_value(scope, b"x-quantgate-shadow"):
            stats.shadow.inc()
        stats.last_traceparent = header_value(scope, b"traceparent")
        faults = config.faults_for(request.category)
        if random.random() < max(config.operational.error_rate, faults.error if faults is not None else 0.0):
            await _error(503, "simulated backend failure", "ServiceUnavailableError")(scope, receive, send)
            return
        stats.in_flight.inc()
        try:
            work = self._answer(request, payload, stream, send)
            disconnected, _ = await run_unless_disconnected(receive, work)
        finally:
            stats.in_flight.dec()
        (stats.aborted if disconnected else stats.completed).labels(self.endpoint).inc()

    async def _answer(self, request: SimRequest, payload: dict[str, Any], stream: bool, send: Any) -> None:
        config = self.state.config
        if config.operational.hang:
            await asyncio.Event().wait()
        answer = generate(request, config.faults_for(request.category), config.fault_salt)
        head = {"id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": config.served_model_name}
        if stream:
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            await self._stream(answer, head, include_usage, send)
            return
        latency = config.latency
        await asyncio.sleep(_lognormal(latency.ttft_ms, latency.ttft_sigma)
                            + sum(_lognormal(latency.itl_ms, latency.itl_sigma) for _ in answer.pieces[1:]))
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": answer.finish_reason}
        if self.chat:
            choice["message"] = {"role": "assistant", "content": answer.text}
        else:
            choice["text"] = answer.text
        body = {**head, "object": self.object_name, "choices": [choice], "usage": _usage(answer),
                "system_fingerprint": SYSTEM_FINGERPRINT, **self._scoring(request, payload)}
        await send({"type": "http.response.start", "status": 200, "headers": _JSON_HEADERS})
        await send({"type": "http.response.body", "body": orjson.dumps(body)})

    def _scoring(self, request: SimRequest, payload: dict[str, Any]) -> dict[str, Any]:
        """vLLM's `prompt_logprobs` and `prompt_token_ids` (chat, when asked for)."""
        k = payload.get("prompt_logprobs")
        if not self.chat or not isinstance(k, int) or isinstance(k, bool) or k < 0:
            return {}
        generation = bool(payload.get("add_generation_prompt", True)) and not payload.get("continue_final_message")
        tokens = chat_tokens(payload["messages"], generation)
        faults = self.state.config.faults_for(request.category)
        noise = faults.logit_noise if faults is not None else 0.0
        out: dict[str, Any] = {"prompt_logprobs": prompt_logprobs(tokens, k, noise, self.state.config.fault_salt)}
        if payload.get("return_token_ids"):
            out["prompt_token_ids"] = tokens
        return out

    def _chunk(self, head: dict[str, Any], piece: str | None, finish: str | None, first: bool = False,
               fingerprint: bool = False) -> bytes:
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
        if self.chat:
            choice["delta"] = {"role": "assistant", "content": ""} if first else {"content": piece}
        else:
            choice["text"] = piece or ""
        data = {**head, "object": f"{self.object_name}.chunk" if self.chat else self.object_name,
                "choices": [choice]}
        if fingerprint:
            data["system_fingerprint"] = SYSTEM_FINGERPRINT
        return b"data: " + orjson.dumps(data) + b"\n\n"

    async def _stream(self, answer: SimAnswer, head: dict[str, Any], include_usage: bool, send: Any) -> None:
        latency = self.state.config.latency
        break_after = self.state.config.operational.break_stream_after_tokens
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await asyncio.sleep(_lognormal(latency.ttft_ms, latency.ttft_sigma))
        if self.chat:
            await send({"type": "http.response.body", "body": self._chunk(head, None, None, True), "more_body": True})
        last = len(answer.pieces) - 1
        for i, piece in enumerate(answer.pieces):
            if break_after and i >= break_after:
                raise ConnectionAbortedError("simulated stream break")
            if i:
                delay = _lognormal(latency.itl_ms, latency.itl_sigma)
                await asyncio.sleep(delay)
            finish = answer.finish_reason if i == last else None
            # Like vLLM: the fingerprint rides on the terminal chunk, or on the usage chunk when there is one.
            chunk = self._chunk(head, piece, finish, fingerprint=finish is not None and not include_usage)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        tail = b""
        if include_usage:
            usage = {**head, "object": f"{self.object_name}.chunk" if self.chat else self.object_name,
                     "choices": [], "usage": _usage(answer), "system_fingerprint": SYSTEM_FINGERPRINT}
            tail = b"data: " + orjson.dumps(usage) + b"\n\n"
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


def _usage(answer: SimAnswer) -> dict[str, int]:
    completion = len(answer.pieces)
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": completion,
            "total_tokens": answer.prompt_tokens + completion}


class SimulatorState:
    """Mutable run-time state of one simulator instance."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = SimulatorStats()


def _tokenize_endpoint(state: SimulatorState) -> Any:
    """vLLM's `POST /tokenize` for chat messages (what `simulator.scoring` tokenises)."""

    async def tokenize(request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
            messages = payload["messages"]
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise ValueError("'messages' must be a list of objects")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return _error(400, f"tokenize needs `messages`: {exc}")
        tokens = chat_tokens(messages, bool(payload.get("add_generation_prompt", True)))
        return JSONResponse({"tokens": tokens, "count": len(tokens), "max_model_len": state.config.max_model_len})

    return tokenize


def create_simulator_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app."""
    state = SimulatorState(config or SimulatorConfig())

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": state.config.served_model_name, "object": "model", "created": 0, "owned_by": "quantgate-simulator",
             "root": state.config.model_root or state.config.served_model_name, "parent": None,
             "max_model_len": state.config.max_model_len,
             "permission": [{"id": "modelperm-simulator", "object": "model_permission", "allow_sampling": True}]}
        ]})

    async def version(_: Request) -> Response:
        return JSONResponse({"version": state.config.runtime_version})

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def metrics(_: Request) -> Response:
        body = generate_latest(state.stats.registry)
        if state.config.resident_memory_bytes is not None:
            body += (b"# HELP process_resident_memory_bytes Resident memory size in bytes (simulated model server).\n"
                     b"# TYPE process_resident_memory_bytes gauge\n"
                     b"process_resident_memory_bytes %d\n" % state.config.resident_memory_bytes)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    async def stats(_: Request) -> Response:
        return JSONResponse({**state.stats.totals(), "last_traceparent": state.stats.last_traceparent})

    async def control(request: Request) -> Response:
        if request.method == "PUT":
            try:
                update = ControlUpdate.model_validate_json(await request.body())
            except ValidationError as exc:
                return _error(422, exc.json(include_url=False))
            changes = update.model_dump(exclude_none=True)
            state.config = state.config.model_validate({**state.config.model_dump(), **changes})
        return JSONResponse(state.config.model_dump())

    app = Starlette(routes=[
        Route("/v1/chat/completions", CompletionEndpoint(state, chat=True), methods=["POST"]),
        Route("/v1/completions", CompletionEndpoint(state, chat=False), methods=["POST"]),
        Route("/v1/models", models),
        Route("/version", version),
        Route("/tokenize", _tokenize_endpoint(state), methods=["POST"]),
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/stats", stats),
        Route("/control", control, methods=["GET", "PUT"]),
    ])
    app.state.simulator = state
    return app
