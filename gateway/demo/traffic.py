"""Mixed, category-tagged client traffic for the demo, measured from the client's side."""

from __future__ import annotations

import asyncio
import json
import random
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
    feedback_token: str | None = None


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
                   stream, ttft, time.perf_counter() - started, response.headers.get("x-quantgate-feedback-token"))


USERS = 997


async def drive(url: str, phase: str, prompts: list[Prompt], count: int, concurrency: int,
                offset: int = 0) -> list[Outcome]:
    """Send `count` requests (every other one streamed) from a pool of sticky users (997: enough that the feedback
    phase's verdicts rest on many users, not on a few users' many answers)."""
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def bounded(i: int) -> Outcome:
            async with semaphore:
                n = offset + i
                return await _one(client, phase, prompts[n % len(prompts)], f"user-{n % USERS}", stream=n % 2 == 0)

        return list(await asyncio.gather(*(bounded(i) for i in range(count))))


# The demo's users: a thumbs-down for 5% of answers, and for 60% of the candidate's math answers (a slice the
# quantized model got worse on as users see it, though the validation passed it; json, which it fails, is pinned).
FEEDBACK_CATEGORY, BASE_THUMBS_DOWN, CANDIDATE_THUMBS_DOWN = "math", 0.05, 0.60


async def send_feedback(url: str, outcomes: list[Outcome], seed: int) -> int:
    """Post a thumbs-down for the answers the demo's users disliked; returns how many were recorded."""
    rng = random.Random(seed)
    recorded = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for outcome in outcomes:
            disliked = CANDIDATE_THUMBS_DOWN if (outcome.variant, outcome.category) == (
                "candidate", FEEDBACK_CATEGORY) else BASE_THUMBS_DOWN
            if outcome.feedback_token and rng.random() < disliked:
                response = await client.post("/v1/feedback", json={"token": outcome.feedback_token,
                                                                    "signal": "thumbs_down"})
                recorded += response.status_code == 200 and response.json().get("recorded", False)
    return recorded

