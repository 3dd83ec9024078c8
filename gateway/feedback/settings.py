"""Feedback settings: the signing keys (the first signs, every one verifies) and how long a token is valid."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MIN_KEY_CHARS = 32


class FeedbackSettings(BaseModel):
    """Without a key no token is issued and `POST /v1/feedback` answers 404 (every replica needs the same keys)."""

    model_config = ConfigDict(extra="forbid")

    # Rotation: put the new key first, keep the old one second until its tokens have expired.
    keys: list[SecretStr] = Field(default_factory=list, max_length=2)
    token_ttl_s: float = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600)
    # How often each worker adds the answers it gave tokens to to the store (the guard's denominators).
    served_flush_s: float = Field(default=15.0, gt=0, le=3600)

    @field_validator("keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        # An unset variable in a manifest arrives as "": that is no key, never an empty one.
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        if not isinstance(value, list):
            return value
        keys = []
        for item in value:
            text = (item.get_secret_value() if isinstance(item, SecretStr) else str(item)).strip()
            if not text:
                continue
            if len(text) < MIN_KEY_CHARS:
                raise ValueError(f"a feedback key has {len(text)} characters; use at least {MIN_KEY_CHARS} "
                                 "(for example the output of `openssl rand -hex 32`)")
            keys.append(text)
        return keys

    def secrets(self) -> list[bytes]:
        """The keys as bytes, signing key first."""
        return [key.get_secret_value().encode() for key in self.keys]
