"""Does each backend serve what its provenance stamp says? A quantized model must be re-validated after any
change to its runtime, so a model, context length or vLLM version that differs from the stamp is a warning in
/readyz, a metric, and the output of `quantgate backends check`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from wire.backends import BackendSettings
from wire.upstream import UpstreamBackend

log = logging.getLogger("quantgate.backends")
_TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass
class BackendCheck:
    """What one backend reported about itself, and where it disagrees with the configured stamp."""

    variant: str
    reachable: bool
    served_models: list[str] = field(default_factory=list)
    max_model_len: int | None = None
    runtime_version: str | None = None
    mismatches: dict[str, str] = field(default_factory=dict)
    # The backend's own /v1/models entry for the served model (vLLM adds max_model_len, root, permission...).
    model_card: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)

    def identity(self) -> dict[str, Any] | None:
        """What the backend says it serves, as a validation records it: a change means the stack changed.

        The served model and its root (vLLM: the checkpoint path or hub id), context length, runtime version,
        and a hash of the quantization config where the backend's model card exposes one. None: unreachable.
        """
        if not self.reachable:
            return None
        card = self.model_card or {}
        quantization = card.get("quantization_config")
        return {"served_models": sorted(self.served_models), "root": card.get("root"),
                "max_model_len": self.max_model_len, "runtime_version": self.runtime_version,
                "quantization_config_sha256": hashlib.sha256(json.dumps(quantization, sort_keys=True).encode())
                .hexdigest() if quantization is not None else None}


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any | None:
    try:
        async with session.get(url, timeout=_TIMEOUT) as response:
            return await response.json(content_type=None) if response.status == 200 else None
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None


async def check_backend(backend: UpstreamBackend, session: aiohttp.ClientSession) -> BackendCheck:
    """Read /v1/models and /version and compare them with the settings."""
    return await check_backend_settings(backend.variant.value, backend.settings, session)


async def check_backend_settings(variant: str, settings: BackendSettings,
                                 session: aiohttp.ClientSession) -> BackendCheck:
    """`check_backend` for a backend known only by its settings (the validation runner)."""
    check = BackendCheck(variant, reachable=False)
    models = await _get_json(session, f"{settings.base_url}/v1/models")
    if not isinstance(models, dict):
        check.mismatches["reachable"] = "GET /v1/models failed"
        return check
    check.reachable = True
    entries = [m for m in models.get("data", []) if isinstance(m, dict)]
    check.served_models = [str(m.get("id")) for m in entries]
    served = next((m for m in entries if m.get("id") == settings.served_model_name), None)
    if served is None:
        check.mismatches["served_model_name"] = (f"{settings.served_model_name!r} not served "
                                                 f"(backend serves {check.served_models})")
    else:
        check.model_card = served
        if isinstance(served.get("max_model_len"), int):
            check.max_model_len = served["max_model_len"]
    version = await _get_json(session, f"{settings.base_url}/version")
    if isinstance(version, dict) and version.get("version"):
        check.runtime_version = f"vllm-{version['version']}"
        expected = settings.stamp.runtime_version
        if expected and str(version["version"]) not in expected:
            check.mismatches["runtime_version"] = f"stamp says {expected!r}, backend runs {check.runtime_version!r}"
    return check


async def check_backends(backends: list[UpstreamBackend]) -> list[BackendCheck]:
    """Check every backend with a short-lived session."""
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(check_backend(b, session) for b in backends)))
