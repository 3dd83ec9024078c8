"""Two real vLLM servers (CPU build) on loopback: the bf16 baseline and a quantized candidate.

Used by `quantgate demo --backends vllm` and the integration tests; `deploy/local/vllm.sh` installs the
environment and builds the models. Standalone:
    python -m gateway.demo.vllm_backends start --python .venv-vllm/bin/python --models DIR --state DIR
    python -m gateway.demo.vllm_backends stop --state DIR
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.demo.stack import LocalStack, free_port

SERVER_ENV = {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
              "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
START_TIMEOUT_S = 420.0


@dataclass
class VllmServer:
    """One running vLLM server."""

    variant: str
    url: str
    served_name: str
    model_dir: Path


def vllm_argv(python: Path, model_dir: Path, served_name: str, port: int) -> list[str]:
    """The api_server command line (the `vllm serve` entry point trips over the CPU build's name)."""
    return [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16",
            "--max-model-len", "1024", "--enforce-eager", "--max-num-seqs", "16"]


def start_pair(stack: LocalStack, python: Path, models_dir: Path, candidate: str = "w8a8") -> list[VllmServer]:
    """Start baseline (bf16) and candidate on their own CPU cores; wait on /health, log on failure."""
    servers = []
    for core, (variant, kind) in enumerate((("baseline", "bf16"), ("candidate", candidate))):
        port = free_port()
        env = {**SERVER_ENV, "VLLM_CPU_OMP_THREADS_BIND": str(core % max(1, os.cpu_count() or 1))}
        stack.start(f"vllm-{variant}", vllm_argv(python, models_dir / kind, f"tiny-{kind}", port), env)
        servers.append(VllmServer(variant, f"http://127.0.0.1:{port}", f"tiny-{kind}", models_dir / kind))
    for proc, server in zip(stack.processes[-2:], servers, strict=True):
        proc.wait_ready(f"{server.url}/health", START_TIMEOUT_S)
    return servers


def runtime_version(url: str) -> str:
    """vLLM's own version, from its /version endpoint."""
    try:
        return "vllm-" + httpx.get(f"{url}/version", timeout=5).json().get("version", "unknown")
    except (httpx.HTTPError, ValueError):
        return "vllm-unknown"


def stamp_from_checkpoint(model_dir: Path, runtime: str) -> dict[str, Any]:
    """A provenance stamp read off the checkpoint's own quantization_config."""
    config = json.loads((model_dir / "config.json").read_text())
    quant = config.get("quantization_config") or {}
    stamp: dict[str, Any] = {"model": f"tiny-llama-{config.get('hidden_size')}x{config.get('num_hidden_layers')}",
                             "revision": model_dir.name, "runtime_version": runtime, "hardware": "cpu",
                             "quantization": "none", "bits": 16}
    if quant:
        scheme = next(iter(quant.get("config_groups", {}).values()), {})
        weights = scheme.get("weights") or {}
        activations = scheme.get("input_activations")
        stamp.update({"quantization": f"{quant.get('quant_method')}:{quant.get('format')}"
                                      f":w{weights.get('num_bits')}a{activations['num_bits'] if activations else 16}",
                      "bits": weights.get("num_bits"), "group_size": weights.get("group_size"),
                      "calibration_set": quant.get("quantization_calibration_set", "")})
    return stamp


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--python", type=Path, default=Path(".venv-vllm/bin/python"))
    parser.add_argument("--models", type=Path, default=Path.home() / ".cache/quantgate/models")
    parser.add_argument("--candidate", choices=["w8a8", "w4a16"], default="w8a8")
    parser.add_argument("--state", type=Path, default=Path(".vllm-state"))
    args = parser.parse_args()
    args.state.mkdir(parents=True, exist_ok=True)
    pids = args.state / "pids.json"
    if args.action == "stop":
        for pid in json.loads(pids.read_text()) if pids.exists() else []:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        pids.unlink(missing_ok=True)
        return
    stack = LocalStack(args.state)
    try:
        servers = start_pair(stack, args.python, args.models, args.candidate)
    except RuntimeError:
        stack.stop()
        raise
    pids.write_text(json.dumps([p.process.pid for p in stack.processes if p.process]))
    for server in servers:
        print(f"{server.variant}: {server.url} ({server.served_name})")


if __name__ == "__main__":
    _main()
