"""The vLLM tier: two real vLLM servers (CPU build) for the whole session, and gateways in front of them."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.stack import LocalStack
from gateway.demo.vllm_backends import VllmServer, runtime_version, stamp_from_checkpoint, start_pair
from tests.conftest import ADMIN_TOKEN, Gateway, GatewayFactory
from wire.backends import BackendSettings, ProvenanceStamp

ROOT = Path(__file__).resolve().parents[2]


def _vllm_python() -> Path:
    reason = os.environ.get("QUANTGATE_VLLM_SKIP_REASON")
    if reason:
        pytest.skip(f"vLLM tier skipped: the vLLM environment could not be installed ({reason})")
    python = Path(os.environ.get("QUANTGATE_VLLM_PYTHON", ROOT / ".venv-vllm" / "bin" / "python"))
    probe = subprocess.run([str(python), "-c", "import vllm"], capture_output=True) if python.exists() else None
    if probe is None or probe.returncode:
        pytest.skip(f"vLLM tier skipped: no vLLM environment at {python}; `deploy/local/vllm.sh models` installs it")
    return python


TIER_CANDIDATE = "gptq-w4a16"


@pytest.fixture(scope="session")
def vllm_servers() -> Iterator[dict[str, VllmServer]]:
    """SmolLM2's bf16 baseline and its GPTQ W4A16 candidate, started once (`vllm.sh models` built them)."""
    python = _vllm_python()
    models = Path(os.environ.get("QUANTGATE_MODELS_DIR", Path.home() / ".cache" / "quantgate" / "models"))
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="quantgate-vllm-")))
    try:
        servers = start_pair(stack, python, models, TIER_CANDIDATE)
        yield {server.variant: server for server in servers}
    finally:
        stack.stop()


def vllm_backend(server: VllmServer, **extra: Any) -> BackendSettings:
    """Backend settings with the stamp read off the checkpoint and the server."""
    stamp = ProvenanceStamp(**stamp_from_checkpoint(server.model_dir, runtime_version(server.url), server.log_path))
    return BackendSettings(name=server.variant, base_url=server.url, served_model_name=server.served_name,
                           stamp=stamp, **extra)


@pytest.fixture
async def vllm_gateway(make_gateway: GatewayFactory, vllm_servers: dict[str, VllmServer]) -> Gateway:
    """A gateway on SQLite in front of the two vLLM servers."""
    return await make_gateway(baseline=vllm_backend(vllm_servers["baseline"]),
                              candidate=vllm_backend(vllm_servers["candidate"]),
                              comparisons={"flush_interval_s": 0.05})


__all__ = ["ADMIN_TOKEN", "vllm_backend"]
