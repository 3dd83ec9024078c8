"""One upstream backend as configured: where it is, how long to wait on it, and what exactly it serves."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class ProvenanceStamp(BaseModel):
    """What exactly a backend serves; exported as an info metric and stamped on comparisons."""

    model: str = "unknown"
    revision: str = ""
    quantization: str = "none"
    method: str = ""
    scheme: str = ""
    bits: int | None = None
    group_size: int | None = None
    calibration_set: str = ""
    calibration_sha256: str = ""
    calibration_samples: int | None = None
    tool: str = ""
    source_package: str = ""
    source_sha256: str = ""
    runtime_version: str = ""
    hardware: str = ""
    # The linear-layer kernel the runtime chose for this checkpoint on this hardware, and the dtype it computes in:
    # the same weights run at very different speeds on another kernel (a dequantizing fallback can be slower than
    # the unquantized baseline). The local vLLM deploy reads both from vLLM's log; remote backends set them.
    kernel: str = ""
    compute_dtype: str = ""
    # The checkpoint's weights on disk (bytes): the size half of the trade, compared by the validation.
    weights_bytes: int | None = None

    def as_labels(self) -> dict[str, str]:
        """The stamp as Prometheus label values (all strings, empty when unknown)."""
        return {name: "" if value is None else str(value) for name, value in self.model_dump().items()}


class BackendSettings(BaseModel):
    """One OpenAI-compatible upstream (a vLLM server or the simulator)."""

    name: str
    base_url: str
    served_model_name: str
    api_key: SecretStr | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # Applies between bytes, first byte included: a non-streamed answer arrives whole, so keep it long.
    read_timeout_s: float = Field(default=300.0, gt=0)
    max_connections: int = Field(default=2048, ge=1)
    # What the backend costs per hour (GPU nodes); the dashboard derives cost per million tokens from it.
    hourly_cost_usd: float | None = Field(default=None, ge=0)
    stamp: ProvenanceStamp = Field(default_factory=ProvenanceStamp)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")
