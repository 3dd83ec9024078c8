"""Who read stored answer texts: every read of a comparison's texts (console or API) leaves a row here.

Answer texts are user prompts and model output; the flag audit says who changed the rollout, this says who looked.
Append-only, like the flag audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

from flags.model import MAX_ACTOR_CHARS


class ReadAuditRow(SQLModel, table=True):
    """One read of stored texts."""

    __tablename__ = "quantgate_read_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str
    resource: str  # e.g. "comparison"
    record_id: int
    surface: str  # "console" or "admin-api"


@dataclass(frozen=True)
class ReadEntry:
    """A read as the console and the API show it."""

    id: int
    at: datetime
    actor: str
    resource: str
    record_id: int
    surface: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "resource": self.resource,
                "record_id": self.record_id, "surface": self.surface}


def add_read(session: Session, at: datetime, actor: str, resource: str, record_id: int, surface: str) -> None:
    """Append one read (the actor bounded: it comes from a client)."""
    session.add(ReadAuditRow(at=at, actor=actor[:MAX_ACTOR_CHARS], resource=resource, record_id=record_id,
                             surface=surface))


def newest_reads(session: Session, limit: int) -> list[ReadEntry]:
    """Newest reads first."""
    rows = session.exec(select(ReadAuditRow).order_by(col(ReadAuditRow.id).desc()).limit(limit)).all()
    return [ReadEntry(row.id or 0, row.at, row.actor, row.resource, row.record_id, row.surface) for row in rows]
