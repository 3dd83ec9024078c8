"""Validation records: a candidate evaluated against its baseline before it may take traffic.

A record is bound to what it validated: both provenance stamps (hashed), the policy (name and content hash),
the suite (version and hash), and the identity both backends reported while it ran. Records are append-only;
the one in force for a deployment is the newest that names its current stamps and policy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
OUTCOMES = (PASS, FAIL, INCONCLUSIVE)


# Stamp fields added after validations were first stored: hashed only when set, so a validation recorded before
# they existed stays bound to the same stamp, and setting one (a kernel change) binds to a new one.
LATER_STAMP_FIELDS = ("kernel", "compute_dtype", "weights_bytes")


def stamp_sha256(stamp: dict[str, Any]) -> str:
    """Hash of a provenance stamp (as its label dict): what a validation is bound to."""
    hashed = {key: value for key, value in stamp.items() if value not in ("", None) or key not in LATER_STAMP_FIELDS}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()


class ValidationRow(SQLModel, table=True):
    """One `quantgate validate` run, with its per-category results."""

    __tablename__ = "quantgate_validations"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(index=True)
    actor: str
    baseline_stamp_sha256: str = Field(index=True)
    candidate_stamp_sha256: str = Field(index=True)
    policy: str
    suite: str
    suite_sha256: str
    outcome: str
    failing_json: str = "[]"  # gated categories with a regression
    inconclusive_json: str = "[]"  # gated categories neither failed nor shown within tolerance
    identity_json: str = "{}"  # {"baseline": {...}, "candidate": {...}} as the backends reported while it ran
    result_json: str = "{}"  # stamps, per-category scores, every verdict, the card's inputs
    wall_s: float = 0.0


@dataclass(frozen=True)
class ValidationSummary:
    """A record as the API and the CLI list it."""

    id: int
    created_at: datetime
    actor: str
    baseline_stamp_sha256: str
    candidate_stamp_sha256: str
    policy: str
    suite: str
    suite_sha256: str
    outcome: str
    failing: list[str]
    inconclusive: list[str]
    identity: dict[str, Any]
    wall_s: float

    @classmethod
    def of(cls, row: ValidationRow) -> ValidationSummary:
        """From a stored row."""
        assert row.id is not None
        return cls(row.id, row.created_at, row.actor, row.baseline_stamp_sha256, row.candidate_stamp_sha256,
                   row.policy, row.suite, row.suite_sha256, row.outcome, json.loads(row.failing_json),
                   json.loads(row.inconclusive_json), json.loads(row.identity_json), row.wall_s)

    def not_passed(self) -> list[str]:
        """Gated categories that would have to stay on the baseline to ship the rest."""
        return sorted(set(self.failing) | set(self.inconclusive))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {"id": self.id, "created_at": self.created_at.isoformat(), "actor": self.actor,
                "baseline_stamp_sha256": self.baseline_stamp_sha256,
                "candidate_stamp_sha256": self.candidate_stamp_sha256, "policy": self.policy, "suite": self.suite,
                "suite_sha256": self.suite_sha256, "outcome": self.outcome, "failing": self.failing,
                "inconclusive": self.inconclusive, "pins_to_ship": {c: "baseline" for c in self.not_passed()},
                "identity": self.identity, "wall_s": self.wall_s}


def latest_matching(session: Session, baseline_sha: str, candidate_sha: str, policy: str) -> ValidationRow | None:
    """The validation in force for these stamps and this policy: the newest that names them."""
    query = (select(ValidationRow).where(ValidationRow.baseline_stamp_sha256 == baseline_sha)
             .where(ValidationRow.candidate_stamp_sha256 == candidate_sha).where(ValidationRow.policy == policy)
             .order_by(col(ValidationRow.id).desc()).limit(1))
    return session.exec(query).first()


def newest(session: Session, limit: int) -> list[ValidationRow]:
    """Newest records first."""
    return list(session.exec(select(ValidationRow).order_by(col(ValidationRow.id).desc()).limit(limit)).all())
