"""Gateway vs direct-to-simulator: throughput, TTFT, total latency and gateway CPU per streamed request.

Run: .venv/bin/python -m bench.proxy_throughput [--duration 12] [--rounds 4] [--concurrency 1 32 128]
Both paths are measured in the same run, against the same simulator, on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
import uvloop
from rich.console import Console
from rich.table import Table

from bench.load import TOKENS, LoadResult, process_tree_cpu_s, run_load
from bench.shadow_overhead import shadow_table
from gateway.demo.stack import LocalStack, free_port, gateway_env, quantgate_argv, simulator_argv


def _row(table: Table, name: str, conc: int, res: LoadResult, cpu_ms: str, ratio: str) -> None:
    table.add_row(name, str(conc), f"{res.rps:.0f}", f"{res.pct(res.ttft_s, 0.5):.2f}",
                  f"{res.pct(res.ttft_s, 0.99):.2f}", f"{res.pct(res.total_s, 0.99):.1f}", str(res.errors), cpu_ms,
                  ratio)


def main() -> None:
    """Start a simulator and a gateway, load both paths at each concurrency, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per path and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved direct/gateway rounds per cell")
    parser.add_argument("--shadow-concurrency", type=int, default=32, help="streams for the shadow 0%% vs 100%% "
                        "comparison (0 skips it)")
    parser.add_argument("--itl-ms", type=float, default=0.0, help="simulator inter-token latency")
    args = parser.parse_args()
    console = Console(width=150)
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-bench-"))
    stack = LocalStack(workdir)
    sim_port, gw_port = free_port(), free_port()
    try:
        stack.start("simulator", simulator_argv(sim_port, "bench", ttft_ms=0, itl_ms=args.itl_ms)).wait_ready(
            f"http://127.0.0.1:{sim_port}/health")
        bare_port = free_port()
        bare_proc = stack.start("bare-proxy", [sys.executable, "-m", "bench.bare_proxy", "--port", str(bare_port),
                                               "--upstream", f"http://127.0.0.1:{sim_port}"])
        shadow_port = free_port()
        stack.start("shadow-simulator", simulator_argv(shadow_port, "bench", ttft_ms=0, itl_ms=args.itl_ms)).wait_ready(
            f"http://127.0.0.1:{shadow_port}/health")
        env = gateway_env(workdir / "bench.db", sim_port, shadow_port, baseline_name="bench", candidate_name="bench",
                          validation_gate=False)
        gateway = stack.start("gateway", quantgate_argv("serve", "--port", str(gw_port)), env)
        gateway.wait_ready(f"http://127.0.0.1:{gw_port}/readyz")
        assert gateway.process is not None
        gw_pid = gateway.process.pid
        assert bare_proc.process is not None
        bare_pid = bare_proc.process.pid
        direct_url = f"http://127.0.0.1:{sim_port}/v1/chat/completions"
        proxy_url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        bare_url = f"http://127.0.0.1:{bare_port}/v1/chat/completions"
        uvloop.install()
        asyncio.run(run_load(proxy_url, 8, 2.0))  # warm-up: connections, imports, caches
        asyncio.run(run_load(direct_url, 8, 2.0))
        table = Table(title=f"Streaming proxy benchmark ({TOKENS + 2} SSE events per request, "
                            f"simulator ITL {args.itl_ms} ms, {args.duration:.0f}s per cell)")
        for column in ("path", "streams", "req/s", "TTFT p50 ms", "TTFT p99 ms", "total p99 ms", "errors",
                       "proxy CPU ms/req", "throughput vs direct"):
            table.add_column(column)
        for conc in args.concurrency:
            direct, bare, proxied = (LoadResult.empty() for _ in range(3))
            cpu_s = bare_cpu_s = 0.0
            # Interleave short rounds so drift on this shared machine hits every path alike.
            for _ in range(args.rounds):
                direct.merge(asyncio.run(run_load(direct_url, conc, args.duration / args.rounds)))
                bare_before = process_tree_cpu_s(bare_pid)
                bare.merge(asyncio.run(run_load(bare_url, conc, args.duration / args.rounds)))
                bare_cpu_s += process_tree_cpu_s(bare_pid) - bare_before
                cpu_before = process_tree_cpu_s(gw_pid)
                proxied.merge(asyncio.run(run_load(proxy_url, conc, args.duration / args.rounds)))
                cpu_s += process_tree_cpu_s(gw_pid) - cpu_before
            cpu_ms = cpu_s * 1000 / max(1, proxied.completed)
            _row(table, "direct", conc, direct, "-", "1.00x")
            bare_ms = f"{bare_cpu_s * 1000 / max(1, bare.completed):.2f}"
            _row(table, "bare proxy (peer)", conc, bare, bare_ms, f"{bare.rps / direct.rps:.2f}x")
            _row(table, "gateway", conc, proxied, f"{cpu_ms:.2f}", f"{proxied.rps / direct.rps:.2f}x")
            added = proxied.pct(proxied.ttft_s, 0.5) - direct.pct(direct.ttft_s, 0.5)
            table.add_row("", "", "", f"(+{added:.2f})", "", "", "", "", "")
        console.print(table)
        if args.shadow_concurrency:
            console.print(shadow_table(f"http://127.0.0.1:{gw_port}", args.shadow_concurrency, args.duration,
                                       args.rounds))
        metrics = httpx.get(f"http://127.0.0.1:{gw_port}/metrics").text
        series = sum(1 for line in metrics.splitlines() if line.startswith("quantgate_"))
        console.print(f"gateway ran with flags polling and metrics on ({series} quantgate_* series exported)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
