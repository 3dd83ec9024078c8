"""The flag set as the gateway sees it, and the two tables that store it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlmodel import Field, SQLModel

from wire.variant import Variant

__all__ = ["Variant"]  # handed on: the store's rows and flag sets speak in variants

# Who did something, as the audit logs store it (a client may send it: bounded everywhere it enters).
MAX_ACTOR_CHARS = 200


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the store uses."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FlagSet:
    """One immutable version of every rollout flag."""

    version: int
    rollout_percent: float
    shadow_percent: float
    rollback: bool
    salt: str
    category_overrides: Mapping[str, Variant] = field(default_factory=lambda: MappingProxyType({}))
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view used by the admin API and the CLI."""
        return {
            "version": self.version,
            "rollout_percent": self.rollout_percent,
            "shadow_percent": self.shadow_percent,
            "rollback": self.rollback,
            "salt": self.salt,
            "category_overrides": {k: v.value for k, v in sorted(self.category_overrides.items())},
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


# What a worker routes on before it ever read the store: everything to the baseline, no shadows.
SAFE_DEFAULT_FLAGS = FlagSet(version=0, rollout_percent=0.0, shadow_percent=0.0, rollback=False, salt="")


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit row."""

    id: int
    at: datetime
    flag: str
    old_value: Any
    new_value: Any
    actor: str
    reason: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "flag": self.flag,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "actor": self.actor,
            "reason": self.reason,
            "version": self.version,
        }


class FlagStateRow(SQLModel, table=True):
    """The single current row of flags; `version` is bumped by every change."""

    __tablename__ = "quantgate_flag_state"

    id: int = Field(default=1, primary_key=True)
    version: int
    rollout_percent: float
    shadow_percent: float
    rollback: bool
    salt: str
    category_overrides_json: str = "{}"
    updated_at: datetime


class FlagAuditRow(SQLModel, table=True):
    """Append-only history of every flag change."""

    __tablename__ = "quantgate_flag_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    flag: str = Field(index=True)
    old_value_json: str
    new_value_json: str
    actor: str
    reason: str
    version: int = Field(index=True)


class GuardStateRow(SQLModel, table=True):
    """The rollout guard's evidence so far (its counts per test), so a restart neither forgets nor re-spends alpha.

    `state_json` is cleared, and `reset_at` set, in the same transaction in which an operator clears a rollback:
    the guard then starts over on pairs newer than that.
    """

    __tablename__ = "quantgate_guard_state"

    id: int = Field(default=1, primary_key=True)
    state_json: str | None = None
    reset_at: datetime | None = None
    updated_at: datetime
