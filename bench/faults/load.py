"""Closed-loop streaming load against a gateway, recording how each request ended as a client saw it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import orjson


@dataclass
class RequestOutcome:
    """One request, as its client saw it."""

    started: float
    status: int | None = None  # None: no response head at all (connection refused, reset, timeout)
    ttft_s: float | None = None
    done: bool = False  # ended with data: [DONE]
    error_event: str | None = None  # the type of an in-band error event, when the stream ended with one

    @property
    def failed_before_first_byte(self) -> bool:
        """No usable answer began: an error status or no response at all."""
        return self.status != 200

    @property
    def cut_without_error(self) -> bool:
        """Started streaming, then ended with neither [DONE] nor an error event a client can act on."""
        return self.status == 200 and not self.done and self.error_event is None


@dataclass
class LoadResult:
    """Everything a load run produced."""

    outcomes: list[RequestOutcome] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[RequestOutcome]:
        """Outcomes of requests started in [start, end)."""
        return [o for o in self.outcomes if start <= o.started < end]

    @staticmethod
    def ttft_p95(outcomes: list[RequestOutcome]) -> float | None:
        """95th percentile of time to first token, in seconds (nearest rank)."""
        values = sorted(o.ttft_s for o in outcomes if o.ttft_s is not None)
        if not values:
            return None
        return values[min(len(values) - 1, int(0.95 * len(values)))]


def chat(prompt: str, max_tokens: int = 24, **extra: object) -> dict[str, object]:
    """A streamed chat request body."""
    return {"model": "quantgate", "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "stream": True, **extra}


async def stream_once(client: httpx.AsyncClient, body: dict[str, object], key: str) -> RequestOutcome:
    """Send one streamed request and read it to the end."""
    outcome = RequestOutcome(started=time.perf_counter())
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body,
                                 headers={"x-quantgate-key": key}) as response:
            outcome.status = response.status_code
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if outcome.ttft_s is None:
                    outcome.ttft_s = time.perf_counter() - outcome.started
                if data == "[DONE]":
                    outcome.done = True
                elif '"error"' in data:
                    error = orjson.loads(data).get("error") or {}
                    outcome.error_event = str(error.get("type", "error"))
    except httpx.HTTPError:
        pass  # what the outcome holds so far is what the client got
    return outcome


async def run_load(url: str, clients: int, duration_s: float, max_tokens: int = 24,
                   stop: asyncio.Event | None = None) -> LoadResult:
    """`clients` loops each sending one streamed request after another for `duration_s` seconds (or until `stop`)."""
    result = LoadResult()
    stop_at = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while time.perf_counter() < stop_at and not (stop is not None and stop.is_set()):
            result.outcomes.append(await stream_once(client, chat(f"user {n} question {i}", max_tokens), f"u{n}-{i}"))
            i += 1

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await asyncio.gather(*(client_loop(client, n) for n in range(clients)))
    return result
