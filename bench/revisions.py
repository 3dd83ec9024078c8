"""Two revisions of the gateway side by side: CPU per streamed request and throughput, interleaved rounds.

Run: .venv/bin/python -m bench.revisions 5b6ffba HEAD [--rounds 8] [--concurrency 128] [--seconds 5]
Each revision is exported from git into a temporary folder and served from there (PYTHONPATH puts it ahead of
the installed checkout), both against one simulator; rounds alternate A,B / B,A so drift on a shared machine
hits both alike. For performance work, where a change is worth a few percent and one run's noise is as large.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import uvloop
from rich.console import Console
from rich.table import Table

from bench.load import LoadResult, process_tree_cpu_s, run_load
from gateway.demo.stack import LocalStack, free_port, gateway_env, simulator_argv

ROOT = Path(__file__).resolve().parents[1]


def _export(revision: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _check_served_from(source: Path, env: dict[str, str]) -> None:
    probe = subprocess.run([sys.executable, "-P", "-c", "import gateway; print(gateway.__file__)"],
                           env={**os.environ, **env}, capture_output=True, text=True, check=True)
    if not probe.stdout.strip().startswith(str(source)):
        raise RuntimeError(f"the exported revision is shadowed: gateway comes from {probe.stdout.strip()}")


def main() -> None:
    """Serve both revisions, load them in alternating rounds, print CPU per request and requests/s."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=5.0, help="per revision and round")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-revisions-"))
    stack = LocalStack(workdir)
    try:
        sim_port = free_port()
        stack.start("simulator", simulator_argv(sim_port, "bench", ttft_ms=0, itl_ms=0)).wait_ready(
            f"http://127.0.0.1:{sim_port}/health")
        served: dict[str, tuple[int, str]] = {}
        for label, revision in (("A", args.a), ("B", args.b)):
            source = workdir / label
            _export(revision, source)
            port = free_port()
            env = gateway_env(workdir / f"{label}.db", sim_port, sim_port, baseline_name="bench",
                              candidate_name="bench")
            env["PYTHONPATH"] = str(source)
            _check_served_from(source, env)
            # -P: the working directory must not shadow the exported revision on sys.path.
            argv = [sys.executable, "-P", "-m", "gateway.cli.main", "serve", "--port", str(port)]
            gateway = stack.start(f"gateway-{label}", argv, env)
            gateway.wait_ready(f"http://127.0.0.1:{port}/readyz")
            assert gateway.process is not None
            served[label] = (gateway.process.pid, f"http://127.0.0.1:{port}/v1/chat/completions")
        uvloop.install()
        for _, url in served.values():
            asyncio.run(run_load(url, 8, 2.0))  # warm-up
        results = {label: LoadResult.empty() for label in served}
        cpu = dict.fromkeys(served, 0.0)
        for round_no in range(args.rounds):
            for label in ("A", "B") if round_no % 2 == 0 else ("B", "A"):
                pid, url = served[label]
                before = process_tree_cpu_s(pid)
                results[label].merge(asyncio.run(run_load(url, args.concurrency, args.seconds)))
                cpu[label] += process_tree_cpu_s(pid) - before
        table = Table(title=f"{args.concurrency} streams, {args.rounds} alternating rounds of {args.seconds:g}s")
        for column in ("revision", "req/s", "gateway CPU ms/req", "errors"):
            table.add_column(column)
        for label, revision in (("A", args.a), ("B", args.b)):
            res = results[label]
            table.add_row(f"{label}: {revision}", f"{res.rps:.0f}", f"{cpu[label] * 1000 / max(1, res.completed):.3f}",
                          str(res.errors))
        Console(width=120).print(table)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
