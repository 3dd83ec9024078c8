"""Resident memory of one serving worker over 100k requests, with shadows on (the full serving path).

One gateway worker in front of two simulators (no latency), 10% of routing keys shadowed and stored; RSS of the
worker process is printed at start, after 50k and after 100k completed requests, with the rate in between:

    .venv/bin/python -m bench.worker_memory --requests 100000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
import psutil

from bench.load import LoadResult, run_load
from gateway.demo.stack import LocalStack, free_port, gateway_env, simulator_argv

TOKEN = "bench-memory-admin-token-0123"


def _set_shadow(url: str, percent: float) -> None:
    request = urllib.request.Request(f"{url}/admin/flags", method="PUT",
                                     data=orjson.dumps({"shadow_percent": percent, "reason": "memory bench"}),
                                     headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


async def _until(url: str, concurrency: int, target: int, done: LoadResult) -> None:
    while done.completed < target:
        done.merge(await run_load(url, concurrency, 5.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--shadow-percent", type=float, default=10.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-memory-"))
    stack = LocalStack(workdir)
    try:
        sim_port = free_port()
        stack.start("simulator", simulator_argv(sim_port, "bench", ttft_ms=0, itl_ms=0)).wait_ready(
            f"http://127.0.0.1:{sim_port}/health")
        port = free_port()
        env = gateway_env(workdir / "flags.db", sim_port, sim_port, token=TOKEN, baseline_name="bench",
                          candidate_name="bench", validation_gate=False)
        gateway = stack.start("gateway", [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
                              env)
        base = f"http://127.0.0.1:{port}"
        gateway.wait_ready(f"{base}/readyz")
        assert gateway.process is not None
        worker = psutil.Process(gateway.process.pid)
        _set_shadow(base, args.shadow_percent)
        url = f"{base}/v1/chat/completions"
        done = LoadResult.empty()
        print(f"{'requests':>9} {'RSS MB':>7} {'req/s':>7} {'errors':>6}")
        print(f"{0:>9} {worker.memory_info().rss / 2**20:7.1f}")
        for target in (args.requests // 2, args.requests):
            started, before = time.perf_counter(), done.completed
            asyncio.run(_until(url, args.concurrency, target, done))
            rate = (done.completed - before) / (time.perf_counter() - started)
            print(f"{done.completed:>9} {worker.memory_info().rss / 2**20:7.1f} {rate:7.0f} {done.errors:>6}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
