"""The pre-ship gate: more candidate traffic only for a candidate validated as it is deployed now.

Checked inside the flag write's own transaction (`FlagStore.apply`), so a refused change never lands and an
accepted one is judged against the validation records as they are at that moment. Only changes that expose
more users to the candidate are gated: raising the rollout, clearing a rollback, pinning a category to the
candidate, or unpinning one from the baseline. Shadow traffic, lowering the rollout and rollback never are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flags.validations import PASS, ValidationSummary

IDENTITY_KEYS = ("served_models", "root", "max_model_len", "runtime_version", "quantization_config_sha256")


@dataclass(frozen=True)
class GateContext:
    """What a rollout increase is checked against: the deployment as configured and as the backends report it."""

    enabled: bool
    baseline_stamp_sha256: str
    candidate_stamp_sha256: str
    policy: str
    # Per variant, the identity the backend reported at its last check (None: unreachable or not yet checked).
    live_identity: dict[str, dict[str, Any] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class GateDecision:
    """Whether a change may land, and if not, what is missing."""

    allowed: bool
    reason: str
    validation_id: int | None = None
    missing: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (the body of a 409)."""
        return {"allowed": self.allowed, "reason": self.reason, "validation_id": self.validation_id,
                "missing": list(self.missing), "failing": list(self.failing)}


class RolloutGated(Exception):
    """A change that would expose users to an unvalidated candidate; nothing was written."""

    def __init__(self, decision: GateDecision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True)
class Exposure:
    """How much traffic the candidate gets under one flag set."""

    percent: float
    candidate_pins: frozenset[str]
    baseline_pins: frozenset[str]

    @classmethod
    def of(cls, rollout_percent: float, rollback: bool, overrides: dict[str, str]) -> Exposure:
        """The exposure a flag set gives (a rollback sends everything to the baseline)."""
        if rollback:
            return cls(0.0, frozenset(), frozenset(overrides))
        return cls(rollout_percent, frozenset(c for c, v in overrides.items() if v == "candidate"),
                   frozenset(c for c, v in overrides.items() if v == "baseline"))

    def raised_by(self, new: Exposure) -> bool:
        """True when `new` sends some traffic to the candidate that this did not."""
        if new.percent > self.percent or new.candidate_pins - self.candidate_pins:
            return True
        return new.percent > 0 and bool(self.baseline_pins - new.baseline_pins)


def identity_drift(recorded: dict[str, Any], live: dict[str, dict[str, Any] | None]) -> list[str]:
    """What differs between the identity a validation recorded and the backends' identity now."""
    drift = []
    for variant in ("baseline", "candidate"):
        then, now = recorded.get(variant) or {}, live.get(variant)
        if now is None:
            drift.append(f"the {variant} backend's identity is unknown (unreachable or not yet checked)")
            continue
        for key in IDENTITY_KEYS:
            if then.get(key) != now.get(key):
                drift.append(f"{variant} {key} {then.get(key)!r} -> {now.get(key)!r}")
    return drift


def decide(context: GateContext, validation: ValidationSummary | None, overrides: dict[str, str]) -> GateDecision:
    """May the candidate get more traffic under this validation and these category pins?"""
    if validation is None:
        return GateDecision(False, f"no validation of candidate stamp {context.candidate_stamp_sha256[:12]} against "
                                   f"baseline stamp {context.baseline_stamp_sha256[:12]} under policy "
                                   f"{context.policy}: run `quantgate validate`", missing=("validation",))
    drift = identity_drift(validation.identity, context.live_identity)
    if drift:
        return GateDecision(False, f"the stack changed since validation #{validation.id}: {'; '.join(drift)}; the "
                                   "rollout is frozen until `quantgate validate` runs again", validation.id,
                            missing=("revalidation",))
    if validation.outcome == PASS:
        return GateDecision(True, f"validation #{validation.id} passed", validation.id)
    unpinned = [c for c in validation.not_passed() if overrides.get(c) != "baseline"]
    if not unpinned:
        return GateDecision(True, f"validation #{validation.id} passed where the candidate is shipped; "
                                  f"{', '.join(validation.not_passed())} pinned to the baseline", validation.id)
    failing = [c for c in unpinned if c in validation.failing]
    unproven = [c for c in unpinned if c not in validation.failing]
    parts = ([f"regressed in {', '.join(failing)}"] if failing else []) + (
        [f"was inconclusive in {', '.join(unproven)}"] if unproven else [])
    return GateDecision(False, f"validation #{validation.id} ({validation.outcome}) {' and '.join(parts)}: pin "
                               "those categories to the baseline (`quantgate validate --apply-pins`) or override "
                               "with a reason", validation.id, missing=("passing categories",),
                        failing=tuple(unpinned))


def overrides_after(current_json: str, changes: dict[str, tuple[Any, Any]]) -> dict[str, str]:
    """The category pins a change leaves in place."""
    if "category_overrides" in changes:
        return dict(changes["category_overrides"][1])
    return dict(json.loads(current_json))
