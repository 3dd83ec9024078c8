"""Two real vLLM servers (CPU build) on loopback: SmolLM2's bf16 baseline and one quantized candidate.

Used by `quantgate demo --backends vllm` and the integration tests; `deploy/local/vllm.sh` installs the
environment and builds the models. Standalone:
    python -m gateway.demo.vllm_backends start --python .venv-vllm/bin/python --models DIR --state DIR
    python -m gateway.demo.vllm_backends stop --state DIR
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.demo.stack import LocalStack, free_port
from gateway.demo.vllm_log import compute_dtype, linear_kernel, read_log

SERVER_ENV = {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
              "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
START_TIMEOUT_S = 420.0
MAX_MODEL_LEN = 2048
BASELINE_CHECKPOINT = "bf16"
CANDIDATES = ("gptq-w4a16", "w8a8", "rtn-w4a16")
STAMP_FILE = "quantgate-stamp.json"
STAMP_FIELDS = ("model", "revision", "quantization", "method", "scheme", "bits", "group_size", "calibration_set",
                "calibration_sha256", "tool", "source_package", "source_sha256")


@dataclass
class VllmServer:
    """One running vLLM server."""

    variant: str
    url: str
    served_name: str
    model_dir: Path
    # Its start-up log: the kernel and dtype it chose are read from it into the stamp.
    log_path: Path | None = None


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def serving_dtype() -> str:
    """bfloat16 where the CPU computes in it natively, else float32 (lossless for bf16 weights).

    Measured on an AVX2-only EPYC: vLLM's bf16 path is emulated there, float32 gave 1.9x the tokens/s at
    4 streams and a 4.7x faster first token for SmolLM2.
    """
    return "bfloat16" if _cpu_flags() & {"avx512_bf16", "amx_bf16"} else "float32"


def cpu_isa() -> str:
    """The widest vector extension vLLM's CPU build dispatches on."""
    flags = _cpu_flags()
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "other"


def served_name(checkpoint: str) -> str:
    """The name vLLM serves a checkpoint under (what `/v1/models` lists)."""
    return f"smollm2-135m-{checkpoint}"


def vllm_argv(python: Path, model_dir: Path, served_name: str, port: int) -> list[str]:
    """The api_server command line (the `vllm serve` entry point trips over the CPU build's name)."""
    return [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
            "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port), "--dtype", serving_dtype(),
            "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager", "--max-num-seqs", "16"]


def start_server(stack: LocalStack, python: Path, models_dir: Path, checkpoint: str, variant: str,
                 cores: str, port: int | None = None) -> VllmServer:
    """Start one vLLM server on the given CPU cores (`0`, `0-1`); returns before it is ready."""
    model_dir = models_dir / checkpoint
    if not (model_dir / STAMP_FILE).exists():
        raise RuntimeError(f"{model_dir} is not built: run `deploy/local/vllm.sh models`")
    port = port or free_port()
    env = {**SERVER_ENV, "VLLM_CPU_OMP_THREADS_BIND": cores}
    proc = stack.start(f"vllm-{variant}", vllm_argv(python, model_dir, served_name(checkpoint), port), env)
    return VllmServer(variant, f"http://127.0.0.1:{port}", served_name(checkpoint), model_dir, proc.log_path)


def start_pair(stack: LocalStack, python: Path, models_dir: Path, candidate: str = "gptq-w4a16",
               ports: tuple[int | None, int | None] = (None, None)) -> list[VllmServer]:
    """Start baseline (bf16) and candidate on their own CPU cores; wait on /health, log on failure."""
    if candidate not in CANDIDATES:
        raise ValueError(f"unknown candidate {candidate!r}; one of {', '.join(CANDIDATES)}")
    cpus = max(1, os.cpu_count() or 1)
    servers = [start_server(stack, python, models_dir, checkpoint, variant, str(core % cpus), port)
               for core, (variant, checkpoint, port) in enumerate(
                   (("baseline", BASELINE_CHECKPOINT, ports[0]), ("candidate", candidate, ports[1])))]
    for proc, server in zip(stack.processes[-2:], servers, strict=True):
        proc.wait_ready(f"{server.url}/health", START_TIMEOUT_S)
    return servers


def runtime_version(url: str) -> str:
    """vLLM's own version, from its /version endpoint."""
    try:
        return "vllm-" + httpx.get(f"{url}/version", timeout=5).json().get("version", "unknown")
    except (httpx.HTTPError, ValueError):
        return "vllm-unknown"


def stamp_from_checkpoint(model_dir: Path, runtime: str, log_path: Path | None = None) -> dict[str, Any]:
    """A provenance stamp from the build's own record (`quantgate-stamp.json`), the serving runtime, and the
    kernel and dtype the server's log says it chose (read once it is ready: it logs them while loading)."""
    built = json.loads((model_dir / STAMP_FILE).read_text())
    stamp = {field: built.get(field) for field in STAMP_FIELDS}
    log = read_log(log_path)
    stamp.update(runtime_version=runtime, hardware=f"cpu:{cpu_isa()}:{serving_dtype()}",
                 calibration_samples=(built.get("calibration") or {}).get("samples"),
                 kernel=linear_kernel(log, str(built.get("quantization") or "none")) if log else None,
                 compute_dtype=compute_dtype(log) or None,
                 weights_bytes=sum(f.stat().st_size for f in model_dir.glob("*.safetensors")) or None)
    return {key: value for key, value in stamp.items() if value is not None}


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--python", type=Path, default=Path(".venv-vllm/bin/python"))
    parser.add_argument("--models", type=Path, default=Path.home() / ".cache/quantgate/models")
    parser.add_argument("--candidate", choices=CANDIDATES, default="gptq-w4a16")
    parser.add_argument("--baseline-port", type=int, default=None)
    parser.add_argument("--candidate-port", type=int, default=None)
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
        servers = start_pair(stack, args.python, args.models, args.candidate,
                             (args.baseline_port, args.candidate_port))
    except RuntimeError:
        stack.stop()
        raise
    pids.write_text(json.dumps([p.process.pid for p in stack.processes if p.process]))
    for server in servers:
        print(f"{server.variant}: {server.url} ({server.served_name})")


if __name__ == "__main__":
    _main()
