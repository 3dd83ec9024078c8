"""This worker's view of the pre-ship gate: the backends' live identity and the validation in force.

Refreshed with every backend check. It feeds the gate (`GateContext` for flag writes), `/readyz` (a warning,
never unready: a changed stack still serves, it just may not get more traffic) and the
`quantgate_validation_valid{variant}` gauge that the alert rule watches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flags.gate import GateContext, identity_drift
from flags.store import FlagStore, FlagStoreUnavailable
from flags.validations import PASS, ValidationSummary, stamp_sha256
from gateway.backend_check import BackendCheck
from gateway.settings import GatewaySettings
from monitors.analysis.policy import RegressionPolicy

VARIANTS = ("baseline", "candidate")


@dataclass
class ValidationState:
    """The gate's inputs as this worker last saw them."""

    enabled: bool
    baseline_stamp_sha256: str
    candidate_stamp_sha256: str
    policy: str
    live_identity: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    in_force: ValidationSummary | None = None
    store_error: str | None = None

    @classmethod
    def of(cls, settings: GatewaySettings, policy: RegressionPolicy) -> ValidationState:
        """Bound to the configured stamps and policy; identity unknown until the first backend check."""
        return cls(settings.validation_gate, stamp_sha256(settings.baseline.stamp.as_labels()),
                   stamp_sha256(settings.candidate.stamp.as_labels()), policy.stamp())

    def context(self) -> GateContext:
        """What a flag write is checked against."""
        return GateContext(self.enabled, self.baseline_stamp_sha256, self.candidate_stamp_sha256, self.policy,
                           dict(self.live_identity))

    def observe(self, checks: list[BackendCheck]) -> None:
        """Take the identities a backend check found."""
        self.live_identity = {check.variant: check.identity() for check in checks}

    def reload(self, store: FlagStore) -> None:
        """Read the validation in force (a store that is down keeps the last one read)."""
        try:
            self.in_force = store.validation_in_force(self.context())
            self.store_error = None
        except FlagStoreUnavailable as exc:
            self.store_error = str(exc)

    def valid(self, variant: str) -> bool:
        """The validation in force passed (or ships only where it passed) and this backend is what it validated."""
        if self.in_force is None:
            return False
        recorded = (self.in_force.identity or {}).get(variant) or {}
        drift = identity_drift({variant: recorded}, {variant: self.live_identity.get(variant)})
        return not [d for d in drift if d.startswith(variant)]

    def as_dict(self) -> dict[str, Any]:
        """The readiness report's `validation` section."""
        drift = identity_drift(self.in_force.identity, self.live_identity) if self.in_force else []
        warnings = []
        if not self.enabled:
            warnings.append("the pre-ship validation gate is disabled in the settings (validation_gate: false)")
        if self.in_force is None:
            warnings.append("no validation of the configured candidate under the current policy")
        elif drift:
            warnings.append(f"validation #{self.in_force.id} no longer matches the backends: {'; '.join(drift)}; "
                            "rollout frozen until `quantgate validate` runs again")
        elif self.in_force.outcome != PASS:
            warnings.append(f"validation #{self.in_force.id} is {self.in_force.outcome}: only categories pinned to "
                            f"the baseline ({', '.join(self.in_force.not_passed())}) keep the rollout open")
        return {"gate_enabled": self.enabled, "in_force": self.in_force.as_dict() if self.in_force else None,
                "valid": {variant: self.valid(variant) for variant in VARIANTS}, "warnings": warnings,
                "store_error": self.store_error}
