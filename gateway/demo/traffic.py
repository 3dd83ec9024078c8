"""Mixed, category-tagged client traffic for the demo, measured from the client's side."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx

MAX_TOKENS_CAP = 64


@dataclass(frozen=True)
class Prompt:
    """One prompt of the bundled mixed set (a copy of the project's shared prompt file)."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    max_tokens: int


@dataclass
class Outcome:
    """What the client saw for one request."""

    phase: str
    category: str
    variant: str
    status: int
    streamed: bool
    ttft_s: float | None
    total_s: float


def load_prompts() -> list[Prompt]:
    """The bundled category-tagged prompts."""
    text = resources.files("gateway.demo").joinpath("data/mixed.jsonl").read_text(encoding="utf-8")
    prompts = []
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            prompts.append(Prompt(row["id"], row["category"], row["messages"], row.get("response_format"),
                                  min(int(row.get("max_tokens", MAX_TOKENS_CAP)), MAX_TOKENS_CAP)))
    return prompts


def _body(prompt: Prompt, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "quantgate", "messages": prompt.messages, "max_tokens": prompt.max_tokens,
                            "temperature": 0, "stream": stream}
    if prompt.response_format:
        body["response_format"] = prompt.response_format
    return body


async def _one(client: httpx.AsyncClient, phase: str, prompt: Prompt, user: str, stream: bool) -> Outcome:
    headers = {"x-quantgate-key": user, "x-quantgate-category": prompt.category}
    started = time.perf_counter()
    ttft: float | None = None
    async with client.stream("POST", "/v1/chat/completions", json=_body(prompt, stream), headers=headers) as response:
        async for chunk in response.aiter_raw():
            if ttft is None and stream and b'"content":"' in chunk.replace(b'"content":""', b""):
                ttft = time.perf_counter() - started
    return Outcome(phase, prompt.category, response.headers.get("x-quantgate-variant", "?"), response.status_code,
                   stream, ttft, time.perf_counter() - started)


async def drive(url: str, phase: str, prompts: list[Prompt], count: int, concurrency: int,
                offset: int = 0) -> list[Outcome]:
    """Send `count` requests (every other one streamed) from a pool of 97 sticky users."""
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def bounded(i: int) -> Outcome:
            async with semaphore:
                n = offset + i
                return await _one(client, phase, prompts[n % len(prompts)], f"user-{n % 97}", stream=n % 2 == 0)

        return list(await asyncio.gather(*(bounded(i) for i in range(count))))
