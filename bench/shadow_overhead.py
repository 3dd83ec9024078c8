"""Primary TTFT with shadowing off (0%) and on (100%), measured in interleaved rounds of one run."""

from __future__ import annotations

import asyncio
import time

import httpx
from rich.table import Table

from bench.load import LoadResult, run_load


def _set_shadow(admin_url: str, percent: float) -> None:
    response = httpx.put(f"{admin_url}/admin/flags", json={"shadow_percent": percent, "reason": "benchmark"})
    response.raise_for_status()
    time.sleep(0.6)  # past two flag polls


def shadow_table(gateway_url: str, concurrency: int, duration_s: float, rounds: int) -> Table:
    """Load the gateway with shadow_percent 0 and 100 alternately; compare the primary's latency."""
    url = f"{gateway_url}/v1/chat/completions"
    results = {0: LoadResult.empty(), 100: LoadResult.empty()}
    for _ in range(rounds):
        for percent in (0, 100):
            _set_shadow(gateway_url, percent)
            results[percent].merge(asyncio.run(run_load(url, concurrency, duration_s / rounds)))
    _set_shadow(gateway_url, 0)
    table = Table(title=f"Shadow overhead on the primary ({concurrency} concurrent streams, every request "
                        "mirrored to a second simulator at 100%)")
    for column in ("shadow %", "req/s", "primary TTFT p50 ms", "primary TTFT p95 ms", "total p95 ms", "errors"):
        table.add_column(column)
    for percent, res in results.items():
        table.add_row(str(percent), f"{res.rps:.0f}", f"{res.pct(res.ttft_s, 0.5):.2f}",
                      f"{res.pct(res.ttft_s, 0.95):.2f}", f"{res.pct(res.total_s, 0.95):.1f}", str(res.errors))
    return table
