"""`POST /v1/feedback`: a signal about one answer, attributed by the answer's own token, recorded once."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flags.feedback_store import FeedbackRow
from flags.model import utcnow
from gateway.feedback.token import MAX_TOKEN_CHARS, FeedbackTokens, InvalidToken
from gateway.feedback.writer import FeedbackRefused, FeedbackWriter
from monitors.analysis.policy import FeedbackSignal
from wire.asgi import read_body
from wire.errors import InvalidRequest, RouteError, StoreUnavailable, ValidationFailed, validation_message

MAX_BODY_BYTES = 4096


class FeedbackIn(BaseModel):
    """One signal about one answer."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS, description="The answer's feedback token header")
    signal: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="A signal the policy declares")
    value: float | None = Field(default=None, description="A score signal's value, within its declared range")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                        description="The same key again counts once")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return value


def _checked_value(name: str, signal: FeedbackSignal, value: float | None) -> float | None:
    if signal.kind == "event":
        if value is not None:
            raise ValidationFailed(f"`{name}` is an event: send no value", param="value")
        return None
    if value is None or not signal.min <= value <= signal.max:  # type: ignore[operator]
        raise ValidationFailed(f"`{name}` is a score from {signal.min:g} to {signal.max:g}", param="value")
    return value


def feedback_route(tokens: FeedbackTokens | None, writer: FeedbackWriter | None, signals: dict[str, FeedbackSignal],
                   body_timeout_s: float) -> Route:
    """The endpoint, over this deployment's token keys, writer and declared signals."""

    async def feedback(request: Request) -> Response:
        if tokens is None or writer is None:
            raise RouteError(404, "feedback is not configured on this gateway (set `feedback.keys`)")
        raw = await read_body(request.receive, MAX_BODY_BYTES, body_timeout_s)
        try:
            sent = FeedbackIn.model_validate(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the body is not JSON: {exc}") from exc
        except ValidationError as exc:
            raise ValidationFailed(validation_message(exc)) from exc
        declared = signals.get(sent.signal)
        if declared is None:
            known = ", ".join(sorted(signals)) or "none"
            raise ValidationFailed(f"unknown signal `{sent.signal}`; the policy declares: {known}", param="signal")
        value = _checked_value(sent.signal, declared, sent.value)
        try:
            claim = tokens.verify(sent.token)
        except InvalidToken as exc:
            raise InvalidRequest(f"feedback token refused: {exc}", param="token") from exc
        row = FeedbackRow(received_at=utcnow(), issued_at=datetime.fromtimestamp(claim.issued_at, UTC),
                          variant=claim.variant, category=claim.category, candidate_share=claim.candidate_share,
                          key_group=claim.key_group, signal=sent.signal, value=value,
                          token_sha256=hashlib.sha256(sent.token.encode()).hexdigest(),
                          idempotency_key=sent.idempotency_key)
        try:
            recorded = await writer.submit(row)
        except FeedbackRefused as exc:
            raise StoreUnavailable(str(exc)) from exc
        return JSONResponse({"recorded": recorded, "duplicate": not recorded})

    return Route("/v1/feedback", feedback, methods=["POST"])
