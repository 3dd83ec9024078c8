"""Settings of shadow traffic and of the comparison records."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ShadowSettings(BaseModel):
    """Bounds on mirroring: shadows never queue without limit and are shed before primaries."""

    max_in_flight: int = Field(default=16, ge=1)
    queue_size: int = Field(default=64, ge=0)
    timeout_s: float = Field(default=120.0, gt=0)
    # Per attempt: the first byte must come within this, and then no gap between bytes may be longer.
    first_byte_timeout_s: float = Field(default=30.0, gt=0)
    idle_timeout_s: float = Field(default=30.0, gt=0)
    # Circuit breaker per target: this many failures in a row, or an attempt waiting this long for its first
    # byte while nothing came back from the target, opens it; after breaker_open_s one probe is let through.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_stall_s: float = Field(default=10.0, gt=0)
    breaker_open_s: float = Field(default=1.0, gt=0)
    breaker_probe_timeout_s: float = Field(default=2.0, gt=0)
    # How long a finished shadow waits for its primary to finish before the pair is dropped.
    primary_wait_s: float = Field(default=300.0, gt=0)
    # Drop new shadows while more primaries than this are in flight in this worker (0 = no limit).
    shed_above_primary_in_flight: int = Field(default=0, ge=0)
    # Primary answers judged in the background; beyond this many waiting, judgements are dropped and counted.
    judging_queue_size: int = Field(default=10_000, ge=1)
    capture_max_bytes: int = Field(default=1024 * 1024, ge=1024)


class ComparisonStoreSettings(BaseModel):
    """Where and how comparison records are kept (the flag store's database)."""

    store_texts: bool = False
    max_text_chars: int = Field(default=4000, ge=0)
    # "default" (emails, phone numbers, API-key-like strings), "none", or "module:function" (str -> str).
    redaction: str = "default"
    retention_hours: float = Field(default=168.0, gt=0)
    purge_interval_s: float = Field(default=600.0, gt=0)
    batch_size: int = Field(default=100, ge=1)
    flush_interval_s: float = Field(default=1.0, gt=0)
    queue_size: int = Field(default=10_000, ge=1)
