"""The rollback guard's settings: plain pydantic, so the gateway's settings load without the statistics."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RampSettings(BaseModel):
    """Progressive rollout (Flagger's stepWeight / maxWeight)."""

    enabled: bool = False
    step: float = Field(default=10.0, gt=0, le=100)
    max: float = Field(default=50.0, gt=0, le=100)


class GuardSettings(BaseModel):
    """The guard is off unless enabled."""

    enabled: bool = False
    interval_s: float = Field(default=60.0, gt=0)
    threshold: int = Field(default=3, ge=1)
    # Pairs older than this when the guard first starts (or starts over) are not considered.
    window_hours: float = Field(default=24.0, gt=0)
    # alpha is split evenly over this many tests (Bonferroni). Unset: the categories the gateway labels (its
    # allow-list, else the policy's named categories plus `other`) times the guarded metrics, so no test the
    # guard can ever run is left outside the family.
    family_size: int | None = Field(default=None, ge=1)
    ramp: RampSettings = Field(default_factory=RampSettings)
