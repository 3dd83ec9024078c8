"""Gateway configuration: built once at start-up from the environment and an optional YAML file."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from flags.deadlines import StoreTimeouts
from gateway.feedback.settings import FeedbackSettings
from monitors.analysis.guard_settings import GuardSettings
from monitors.quality.detectors.settings import DetectorSettings
from shadow.settings import ComparisonStoreSettings, ShadowSettings
from wire.backends import BackendSettings, ProvenanceStamp

MIN_ADMIN_TOKEN_CHARS = 16


def _default_baseline() -> BackendSettings:
    return BackendSettings(
        name="baseline",
        base_url="http://127.0.0.1:8001",
        served_model_name="baseline",
        stamp=ProvenanceStamp(model="simulator", quantization="none", bits=16),
    )


def _default_candidate() -> BackendSettings:
    return BackendSettings(
        name="candidate",
        base_url="http://127.0.0.1:8002",
        served_model_name="candidate",
        stamp=ProvenanceStamp(model="simulator", quantization="w8a8", bits=8),
    )


class RequestBounds(BaseModel):
    """What one completion request may ask of a backend; more is refused with a 400 before any backend sees it."""

    model_config = ConfigDict(extra="forbid")
    # Each choice is a full generation: `n: 1000000` would be a million answers from one request.
    max_n: int = Field(default=16, ge=1, le=1024)
    max_best_of: int = Field(default=16, ge=1, le=1024)
    # max_tokens and max_completion_tokens (OpenAI's newer name) alike.
    max_tokens: int = Field(default=32_768, ge=1, le=10_000_000)


class GatewaySettings(BaseSettings):
    """Everything the gateway needs; env vars use the QUANTGATE_ prefix and `__` for nesting."""

    model_config = SettingsConfigDict(
        env_prefix="QUANTGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        yaml_file=None,
    )

    public_model_name: str = "quantgate"
    # Further names clients may send for the same model (a migration's old name); backends' served names are not
    # routable: a client naming one would be answered by whichever arm its key routes to, under the wrong name.
    model_aliases: list[str] = Field(default_factory=list)
    request_bounds: RequestBounds = Field(default_factory=RequestBounds)
    baseline: BackendSettings = Field(default_factory=_default_baseline)
    candidate: BackendSettings = Field(default_factory=_default_candidate)

    flag_store_url: str = "sqlite:///./quantgate.db"
    flag_poll_interval_s: float = Field(default=0.25, gt=0)
    # Connect, statement and lock timeouts, and the deadline within which an admin write commits or never does.
    flag_store_timeouts: StoreTimeouts = Field(default_factory=StoreTimeouts)

    admin_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    admin_host: str | None = None
    admin_port: int | None = Field(default=None, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    # One JSON line per request on stdout (method, path, status, variant, request id, timings); off by default.
    access_log: bool = False
    # The pre-ship gate: more candidate traffic only after a passing `quantgate validate` of the deployed stack.
    # Disabling it is visible in /readyz and as quantgate_validation_gate_enabled 0.
    validation_gate: bool = True
    # How often each backend's identity (/v1/models, /version) is compared with its stamp and its validation.
    backend_check_interval_s: float = Field(default=60.0, gt=0)

    # Category label values come from clients: bound them so a bad client cannot explode cardinality.
    categories: list[str] = Field(default_factory=list)
    max_categories: int = Field(default=64, ge=1)
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Slow clients: the request head must arrive within this, and a body sent in several pieces within the other.
    client_header_timeout_s: float = Field(default=10.0, gt=0)
    # The request line and headers together; a larger head is answered 431 (nginx allows 4 × 8 KiB by default).
    client_max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=16 * 1024 * 1024)
    client_body_timeout_s: float = Field(default=30.0, gt=0)
    # On SIGTERM: answers still running after this long are cut with an in-band error. Keep it below the pod's
    # terminationGracePeriodSeconds minus the preStop pause, or the kubelet's SIGKILL cuts them silently first.
    drain_timeout_s: float = Field(default=30.0, gt=0, le=3600)

    # Console sessions live in the store: logout and a new admin token end them; so does this much idleness.
    console_idle_timeout_s: float = Field(default=30 * 60, ge=60, le=24 * 3600)
    console_session_max_age_s: float = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Failed logins and bearer tokens per client address: past `limit` in the window, the address gets 429s.
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000)
    auth_failure_window_s: float = Field(default=300.0, ge=1, le=24 * 3600)

    shadow: ShadowSettings = Field(default_factory=ShadowSettings)
    # Signed feedback tokens on every answer and `POST /v1/feedback` (off without a key).
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    comparisons: ComparisonStoreSettings = Field(default_factory=ComparisonStoreSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    # Regression policy (YAML) for verdicts, reports and the guard; the built-in default when unset.
    policy_file: str | None = None
    # Quantiles and medians in /admin/verdicts come from a uniform random sample of the window of at most this
    # many pairs (rates and sign tests count every pair in SQL); each verdict states its sample size.
    verdict_sample_size: int = Field(default=20_000, ge=1_000, le=1_000_000)

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        # An unset variable in a manifest often arrives as "": that is no token, never an empty password.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if len(value) < MIN_ADMIN_TOKEN_CHARS:
                raise ValueError(f"admin_token has {len(value)} characters; use at least {MIN_ADMIN_TOKEN_CHARS} "
                                 "(for example the output of `openssl rand -hex 24`)")
        return value

    @field_validator("baseline", "candidate", mode="before")
    @classmethod
    def _merge_backend_defaults(cls, value: object, info: ValidationInfo) -> object:
        # QUANTGATE_CANDIDATE__BASE_URL alone must not wipe the rest of the candidate's defaults.
        if isinstance(value, dict):
            default = _default_baseline() if info.field_name == "baseline" else _default_candidate()
            merged = default.model_dump()
            merged["api_key"] = default.api_key
            for key, item in value.items():
                if key == "stamp" and isinstance(item, dict):
                    merged["stamp"] = {**merged["stamp"], **item}
                else:
                    merged[key] = item
            return merged
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))

    def admin_bind_host(self) -> str:
        """The host the admin surface listens on (the public host when it shares the port)."""
        return self.admin_host or self.host

    def admin_is_loopback_only(self) -> bool:
        """True when the admin surface cannot be reached from outside this machine."""
        host = self.admin_bind_host()
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def load_settings(config_file: Path | str | None = None, **overrides: object) -> GatewaySettings:
    """Build the settings once: explicit overrides, then QUANTGATE_* env vars, then the YAML file."""
    if config_file is None:
        return GatewaySettings(**overrides)  # type: ignore[arg-type]
    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")

    class _FileSettings(GatewaySettings):
        model_config = SettingsConfigDict(**{**GatewaySettings.model_config, "yaml_file": str(path)})

    try:
        loaded = _FileSettings(**overrides)  # type: ignore[arg-type]
    except yaml.YAMLError as exc:
        raise ValueError(f"config file {path} is not valid YAML: {exc}") from exc
    return GatewaySettings.model_construct(**dict(loaded))
