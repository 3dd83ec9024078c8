"""Closed-loop streaming load generator shared by the benchmarks (aiohttp client, uvloop)."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import aiohttp
import psutil

TOKENS = 18  # role chunk + 18 token chunks + [DONE] = 20 SSE events per request


@dataclass
class LoadResult:
    """What one load run produced."""

    completed: int
    errors: int
    elapsed_s: float
    ttft_s: list[float]
    total_s: list[float]

    def merge(self, other: LoadResult) -> None:
        """Add another round's figures."""
        self.completed += other.completed
        self.errors += other.errors
        self.elapsed_s += other.elapsed_s
        self.ttft_s += other.ttft_s
        self.total_s += other.total_s

    @classmethod
    def empty(cls) -> LoadResult:
        """A result to merge rounds into."""
        return cls(0, 0, 0.0, [], [])

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.completed / self.elapsed_s

    def pct(self, values: list[float], q: float) -> float:
        """Quantile in ms."""
        if not values:
            return float("nan")
        return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] * 1000


def process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn workers, helpers)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def _body(shadow_key: int) -> dict[str, object]:
    return {"model": "bench", "stream": True, "max_tokens": TOKENS, "min_tokens": TOKENS, "temperature": 0,
            "messages": [{"role": "user", "content": f"benchmark prompt {shadow_key % 50}"}]}


async def _one(session: aiohttp.ClientSession, url: str, key: int, result: LoadResult) -> None:
    started = time.perf_counter()
    first: float | None = None
    async with session.post(url, json=_body(key), headers={"x-quantgate-key": f"user-{key}"}) as response:
        if response.status != 200:
            await response.read()
            result.errors += 1
            return
        async for chunk in response.content.iter_any():
            if first is None and b'"content":"' in chunk.replace(b'"content":""', b""):
                first = time.perf_counter()
    done = time.perf_counter()
    result.completed += 1
    result.ttft_s.append((first or done) - started)
    result.total_s.append(done - started)


async def run_load(url: str, concurrency: int, duration_s: float) -> LoadResult:
    """Closed-loop load: `concurrency` streams back to back for `duration_s`."""
    result = LoadResult(0, 0, 0.0, [], [])
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        deadline = time.perf_counter() + duration_s
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < deadline:
                try:
                    await _one(session, url, next(counter), result)
                except aiohttp.ClientError:
                    result.errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - started
    return result


