"""Timing both arms on the production batch profile, straight to the backends (not through the gateway).

Every request streams (`stream_options.include_usage`) so the first token, each token after it and the end are
timed where the client sees them; every answer is forced to the same length (`min_tokens` = `max_tokens`, a vLLM
sampling parameter the simulator honours too) so both arms do the same work. At each concurrency both arms first
get `warmup` requests that are thrown away, then `rounds` rounds; within a round one arm runs its `requests`
requests, then the other, and the order alternates from round to round (baseline first in even rounds), so drift in
the machine's load (another process, thermal state, a cache warming) falls on both arms alike and the rounds pair
the arms for the throughput intervals. The arms never run at the same time: on shared hardware they would compete
for the same cores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from evals.suite import SuiteItem
from monitors.analysis.performance_policy import PerformancePolicy
from wire.backends import BackendSettings

ARMS = ("baseline", "candidate")


class PerformanceRunError(RuntimeError):
    """A backend failed a timed request: the stage has no figures for it."""


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """One streamed answer as the client saw it (seconds from sending the request)."""

    ttft_s: float
    total_s: float
    output_tokens: int
    # Gaps between consecutive content chunks after the first (vLLM streams one chunk per token).
    gaps_s: tuple[float, ...]

    @property
    def stream_tokens_per_s(self) -> float:
        """This stream's output tokens per second, first token included."""
        return self.output_tokens / self.total_s if self.total_s > 0 else 0.0


@dataclass
class RoundTiming:
    """One arm's requests in one round: each request, and the round's wall time."""

    wall_s: float
    requests: list[RequestTiming]

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests)


@dataclass
class ArmTimings:
    """One arm at one concurrency: its rounds in order."""

    rounds: list[RoundTiming] = field(default_factory=list)


def request_body(item: SuiteItem, backend: BackendSettings, output_tokens: int) -> dict[str, Any]:
    """A streamed chat request forced to `output_tokens` tokens."""
    return {"model": backend.served_model_name, "messages": [m.model_dump() for m in item.messages],
            "max_tokens": output_tokens, "min_tokens": output_tokens, "temperature": 0.0, "stream": True,
            "stream_options": {"include_usage": True}}


def _headers(backend: BackendSettings) -> dict[str, str]:
    key = backend.api_key.get_secret_value() if backend.api_key is not None else ""
    return {"authorization": f"Bearer {key}"} if key else {}


async def timed_request(session: aiohttp.ClientSession, backend: BackendSettings,
                        body: dict[str, Any]) -> RequestTiming:
    """Send one streamed request and time its chunks."""
    started = time.perf_counter()
    arrivals: list[float] = []
    usage_tokens: int | None = None
    async with session.post(f"{backend.base_url}/v1/chat/completions", json=body,
                            headers=_headers(backend)) as response:
        if response.status != 200:
            raise PerformanceRunError(f"{backend.name}: HTTP {response.status}: {(await response.text())[:300]}")
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data:") or line == b"data: [DONE]":
                continue
            chunk = orjson.loads(line[5:])
            now = time.perf_counter()
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    arrivals.append(now)
            if chunk.get("usage"):
                usage_tokens = chunk["usage"].get("completion_tokens")
    ended = time.perf_counter()
    if not arrivals:
        raise PerformanceRunError(f"{backend.name}: an answer without any content")
    gaps = tuple(later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False))
    return RequestTiming(arrivals[0] - started, ended - started, usage_tokens or len(arrivals), gaps)


async def timed_batch(session: aiohttp.ClientSession, backend: BackendSettings, bodies: list[dict[str, Any]],
                      concurrency: int) -> RoundTiming:
    """All `bodies`, `concurrency` in flight at a time; the wall time from the first send to the last byte."""
    queue = list(reversed(bodies))
    timings: list[RequestTiming] = []

    async def worker() -> None:
        while queue:
            timings.append(await timed_request(session, backend, queue.pop()))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(bodies))):
            group.create_task(worker())
    return RoundTiming(time.perf_counter() - started, timings)


def _bodies(items: list[SuiteItem], backend: BackendSettings, count: int, offset: int,
            output_tokens: int) -> list[dict[str, Any]]:
    """`count` requests cycling through the items from `offset`: both arms get the same prompts in a round."""
    return [request_body(items[(offset + i) % len(items)], backend, output_tokens) for i in range(count)]


async def measure(backends: dict[str, BackendSettings], items: list[SuiteItem],
                  profile: PerformancePolicy) -> dict[int, dict[str, ArmTimings]]:
    """Per concurrency and arm, the timed rounds (warm-up discarded, arms alternating)."""
    if not items:
        raise PerformanceRunError("no prompts to time")
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)
    results: dict[int, dict[str, ArmTimings]] = {}
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for concurrency in profile.concurrency:
            arms = {arm: ArmTimings() for arm in ARMS}
            for arm in ARMS:
                if profile.warmup:
                    await timed_batch(session, backends[arm], _bodies(items, backends[arm], profile.warmup, 0,
                                                                      profile.output_tokens), concurrency)
            for round_index in range(profile.rounds):
                order = ARMS if round_index % 2 == 0 else tuple(reversed(ARMS))
                for arm in order:
                    bodies = _bodies(items, backends[arm], profile.requests, round_index * profile.requests,
                                     profile.output_tokens)
                    arms[arm].rounds.append(await timed_batch(session, backends[arm], bodies, concurrency))
            results[concurrency] = arms
    return results
