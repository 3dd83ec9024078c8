"""The request fields the simulator reads, validated at the edge the way vLLM's protocol models do."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from wire.errors import validation_message


class JsonSchemaSpec(BaseModel):
    """`response_format.json_schema`: the schema must be an object (a JSON Schema document)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"}, alias="schema")


class ResponseFormat(BaseModel):
    """`response_format` as the OpenAI API defines it."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class SamplingFields(BaseModel):
    """Only the fields that shape the simulated answer; every other field is ignored as vLLM ignores extras."""

    model_config = ConfigDict(extra="ignore")

    max_tokens: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    min_tokens: StrictInt = Field(default=0, ge=0, le=1_000_000)
    seed: StrictInt | None = None
    response_format: ResponseFormat | None = None
    messages: list[dict[str, Any]] | None = None

    @field_validator("min_tokens", mode="before")
    @classmethod
    def _none_is_zero(cls, value: object) -> object:
        return 0 if value is None else value


def sampling_fields(payload: dict[str, Any]) -> SamplingFields:
    """Validated fields; raises ValueError with every problem named."""
    try:
        return SamplingFields.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from None
