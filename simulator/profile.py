"""What the simulator does: latency distributions and the faults a candidate injects, per category."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LatencyProfile(BaseModel):
    """Log-normal time to first token and inter-token latency (medians in ms, sigma of the log)."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float = Field(default=40.0, ge=0)
    ttft_sigma: float = Field(default=0.3, ge=0, le=3)
    itl_ms: float = Field(default=8.0, ge=0)
    itl_sigma: float = Field(default=0.2, ge=0, le=3)


class FaultRates(BaseModel):
    """Quality faults a quantized candidate may show; each a probability per answer except `drift`."""

    model_config = ConfigDict(extra="forbid")

    refusal: float = Field(default=0.0, ge=0, le=1)
    broken_json: float = Field(default=0.0, ge=0, le=1)
    longer: float = Field(default=0.0, ge=0, le=1)
    truncated: float = Field(default=0.0, ge=0, le=1)
    repetition: float = Field(default=0.0, ge=0, le=1)
    # Strength in [0, 1]: token i of n is replaced with probability drift * i / n, so it grows with length.
    drift: float = Field(default=0.0, ge=0, le=1)
    # Share of this category's requests answered 503 before any byte: a candidate failing on hard prompts.
    error: float = Field(default=0.0, ge=0, le=1)
    # Standard deviation of the Gaussian noise on its `prompt_logprobs` logits (not a probability): how far its
    # token distribution drifts from the baseline's (`simulator.scoring`).
    logit_noise: float = Field(default=0.0, ge=0, le=5)

    def any(self) -> bool:
        """True when this profile changes any answer."""
        return any(getattr(self, name) > 0 for name in type(self).model_fields)


class OperationalFaults(BaseModel):
    """Transport-level failures, for failover and resilience tests."""

    model_config = ConfigDict(extra="forbid")

    # Share of requests answered 503 before any byte.
    error_rate: float = Field(default=0.0, ge=0, le=1)
    # Never answer (until the client gives up): exercises timeouts.
    hang: bool = False
    # Cut the connection after this many streamed tokens (0 = never).
    break_stream_after_tokens: int = Field(default=0, ge=0)


class SimulatorConfig(BaseModel):
    """The whole run-time configuration; `PUT /control` replaces the parts it names."""

    model_config = ConfigDict(extra="forbid")

    served_model_name: str = "simulator"
    latency: LatencyProfile = Field(default_factory=LatencyProfile)
    # Keyed by category; "*" applies to categories without an entry of their own.
    faults: dict[str, FaultRates] = Field(default_factory=dict)
    operational: OperationalFaults = Field(default_factory=OperationalFaults)
    default_max_tokens: int = Field(default=256, ge=1)
    # Reported on /v1/models as vLLM does (the simulator does not enforce it).
    max_model_len: int = Field(default=8192, ge=1)
    # Two instances with different salts draw their faults independently (an A/A pair of noisy replicas);
    # with the same salt a candidate differs from the baseline only where its profile says so.
    fault_salt: str = ""
    # What the simulator says it serves (vLLM's /v1/models `root`, its /version): a validation records both,
    # and changing them at run time is how tests stand in for a redeployed checkpoint or runtime.
    model_root: str = Field(default="", max_length=512)
    runtime_version: str = Field(default="quantgate-simulator", min_length=1, max_length=64)
    # The memory a model server would hold, reported as `process_resident_memory_bytes` on /metrics (None: not
    # reported): a quantized profile reports less, as a smaller checkpoint would.
    resident_memory_bytes: int | None = Field(default=None, ge=0)

    def faults_for(self, category: str) -> FaultRates | None:
        """The fault rates that apply to a category, or None when answers are untouched."""
        rates = self.faults.get(category) or self.faults.get("*")
        return rates if rates is not None and rates.any() else None


class ControlUpdate(BaseModel):
    """Partial update of the simulator configuration at run time."""

    model_config = ConfigDict(extra="forbid")

    latency: LatencyProfile | None = None
    faults: dict[str, FaultRates] | None = None
    operational: OperationalFaults | None = None
    model_root: str | None = Field(default=None, max_length=512)
    runtime_version: str | None = Field(default=None, min_length=1, max_length=64)
    resident_memory_bytes: int | None = Field(default=None, ge=0)


def candidate_profile() -> dict[str, FaultRates]:
    """A plausible quantized-model profile: mostly faithful, worse on a few slices."""
    return {
        "benign-sensitive": FaultRates(refusal=0.15),
        "json": FaultRates(broken_json=0.12),
        "long": FaultRates(drift=0.35, longer=0.1, logit_noise=0.5),
        "math": FaultRates(truncated=0.05, repetition=0.05, logit_noise=0.8),
    }
