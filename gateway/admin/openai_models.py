"""The OpenAI API subset the proxy serves, as pydantic models for the OpenAPI document only.

The proxy itself is pure ASGI and passes bodies through to vLLM untouched (it reads `model`, `user`, `stream` and
`stream_options`); these models say what a client may send and what comes back, vLLM's extras allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    """`include_usage` adds a final usage chunk to a stream."""

    include_usage: bool | None = None


class SamplingRequest(BaseModel):
    """Fields common to both completion endpoints."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="the gateway's public model name (GET /v1/models)")
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    user: str | None = Field(default=None, max_length=256, description="sticky routing key (bounded)")
    response_format: dict[str, Any] | None = None


class ChatCompletionRequest(SamplingRequest):
    """POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(SamplingRequest):
    """POST /v1/completions."""

    prompt: str | list[str]


class Usage(BaseModel):
    """Token counts of one answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatChoice(BaseModel):
    """One chat answer."""

    model_config = ConfigDict(extra="allow")

    index: int
    message: ChatMessage
    finish_reason: str | None


class ChatCompletion(BaseModel):
    """A non-streamed chat answer; streamed, the same arrives as `chat.completion.chunk` server-sent events."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class CompletionChoice(BaseModel):
    """One text completion."""

    model_config = ConfigDict(extra="allow")

    index: int
    text: str
    finish_reason: str | None


class Completion(BaseModel):
    """A non-streamed text completion (streamed: `text_completion` server-sent events)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
