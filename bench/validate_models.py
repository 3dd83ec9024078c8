"""`quantgate validate` on the real model: bf16 against each quantized candidate, on vLLM's CPU build.

Each pair is served on its own core (baseline core 0, candidate core 1), described to the gateway's settings with
the stamps read off the checkpoints, and validated with the project's own CLI under
`deploy/policies/smollm2-preship.yaml`; records go to one SQLite store and the disclosure cards to
`bench/results/validations/`. The answer cache is shared, so the baseline answers once for all three.

    .venv/bin/python -m bench.validate_models --per-category 50
    .venv/bin/python -m bench.validate_models --per-category 10 --policy deploy/policies/smollm2-payoff.yaml

Every validation also runs the token-level early warning and, when the policy enables it (the default), the
performance stage: with both servers up and each on its own core, the arms are timed one after the other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gateway.demo.stack import LocalStack
from gateway.demo.vllm_backends import CANDIDATES, START_TIMEOUT_S, runtime_version, stamp_from_checkpoint, start_pair

RESULTS = Path("bench/results/validations")
POLICY = Path("deploy/policies/smollm2-preship.yaml")


def _settings(servers: list, store: Path, policy: Path) -> dict:
    backends = {}
    for server in servers:
        backends[server.variant] = {"name": server.variant, "base_url": server.url,
                                    "served_model_name": server.served_name,
                                    "stamp": stamp_from_checkpoint(server.model_dir, runtime_version(server.url),
                                                          server.log_path)}
    return {"flag_store_url": f"sqlite:///{store.resolve()}", "policy_file": str(policy.resolve()), **backends}


def validate_candidate(candidate: str, args: argparse.Namespace) -> float:
    """Serve bf16 and one candidate, run `quantgate validate`; returns its wall time in seconds."""
    stack = LocalStack(Path(tempfile.mkdtemp(prefix=f"quantgate-validate-{candidate}-")))
    try:
        servers = start_pair(stack, args.vllm_python, args.models_dir, candidate)
        config = stack.workdir / "gateway.yaml"
        config.write_text(yaml.safe_dump(_settings(servers, RESULTS / "validations.db", args.policy)))
        argv = [sys.executable, "-m", "gateway.cli.main", "validate", "--config", str(config), "--concurrency",
                str(args.concurrency), "--cache-dir", str(RESULTS / "answers"), "--card-dir", str(RESULTS),
                "--actor", "bench.validate_models"]
        if args.per_category:
            argv += ["--per-category", str(args.per_category)]
        started = time.perf_counter()
        # Core 1 is the candidate's, core 0 the baseline's: the CLI itself is light and waits on both.
        result = subprocess.run(argv, env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"}, text=True)
        if result.returncode not in (0, 3, 4):
            raise RuntimeError(f"validate {candidate} exited {result.returncode}")
        return time.perf_counter() - started
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    parser.add_argument("--per-category", type=int, default=None, help="first N items per category (default: all)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--policy", type=Path, default=POLICY,
                        help="deploy/policies/smollm2-payoff.yaml adds the performance stage's targets")
    parser.add_argument("--vllm-python", type=Path, default=Path(".venv-vllm/bin/python"))
    parser.add_argument("--models-dir", type=Path, default=Path.home() / ".cache/quantgate/models")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"vLLM start-up allowance {START_TIMEOUT_S:.0f} s per server")
    for candidate in args.candidates:
        wall = validate_candidate(candidate, args)
        print(f"{candidate}: validate wall time {wall:.0f} s")


if __name__ == "__main__":
    main()
