"""Validated change requests for the flag set, as they arrive at the admin API."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from flags.model import MAX_ACTOR_CHARS, Variant
from wire.terminal_text import NO_CONTROL_PATTERN, NOT_BLANK_NO_CONTROL_PATTERN, refuse_control_characters

_CATEGORY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# What the OpenAPI document promises for override keys; "$" alone would let a trailing newline through.
_OVERRIDES_SCHEMA = {"anyOf": [{"type": "object", "additionalProperties": {"anyOf": [
    {"enum": [v.value for v in Variant]}, {"type": "null"}]}, "propertyNames": {
    "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]+$", "not": {"pattern": "\n"}}}, {"type": "null"}],
    "description": "category -> variant pin; null drops the pin"}


def _reason(value: str) -> str:
    """Every change says why; blank reasons are refused."""
    if not value.strip():
        raise ValueError("reason must not be blank")
    return value.strip()


# Reasons and actors are printed by `quantgate audit` and the console: no control characters. The check before
# pydantic's names the characters in the 422; the pattern puts the same rule in the OpenAPI schema.
# (Field first: a validator listed before it hides its pattern from the JSON schema.)
Reason = Annotated[str, Field(min_length=1, max_length=2000, pattern=NOT_BLANK_NO_CONTROL_PATTERN),
                   BeforeValidator(refuse_control_characters), AfterValidator(_reason)]
Actor = Annotated[str, Field(min_length=1, max_length=MAX_ACTOR_CHARS, pattern=NOT_BLANK_NO_CONTROL_PATTERN),
                  BeforeValidator(refuse_control_characters), AfterValidator(str.strip)]
Salt = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_CONTROL_PATTERN),
                 BeforeValidator(refuse_control_characters)]


class FlagUpdate(BaseModel):
    """A partial update: fields left out stay as they are; a reason is always required."""

    model_config = ConfigDict(extra="forbid")

    # strict: `true` is not 1%, and "10" is not a number.
    rollout_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False, strict=True)
    shadow_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False, strict=True)
    rollback: StrictBool | None = None
    # A category mapped to null drops its override.
    category_overrides: Annotated[dict[str, Variant | None] | None, WithJsonSchema(_OVERRIDES_SCHEMA)] = None
    salt: Salt | None = None
    reason: Reason
    actor: Actor | None = None
    expected_version: int | None = Field(default=None, ge=0, lt=2**63, strict=True)
    # Land a change the pre-ship gate refuses; audited as `gate_override` with what was missing and the reason.
    override_gate: StrictBool = False

    @field_validator("expected_version", mode="before")
    @classmethod
    def _integral_float(cls, value: object) -> object:
        # JSON has one number type: 12.0 is the integer 12 (JSON Schema agrees); "12" and true stay refused.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("category_overrides")
    @classmethod
    def _category_names(cls, value: dict[str, Variant | None] | None) -> dict[str, Variant | None] | None:
        for name in value or {}:
            if not _CATEGORY.fullmatch(name):
                raise ValueError(f"invalid category name {name!r}: use 1-64 of [A-Za-z0-9_.:-]")
        return value


    def changes(self) -> dict[str, object]:
        """Only the flags this update sets."""
        fields = ("rollout_percent", "shadow_percent", "rollback", "category_overrides", "salt")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


class RollbackRequest(BaseModel):
    """The one-call kill switch."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason
    actor: Actor | None = None

