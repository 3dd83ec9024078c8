"""Runs a suite against both arms, straight to the backends (not through the gateway), resumably.

Both arms get the same requests with the same sampling (temperature 0, one fixed seed), with bounded
concurrency per backend. Every answer is appended to a cache file named by the backend's live identity and the
sampling, keyed by a hash of the item's content: an interrupted run picks up where it stopped, a baseline that
has not changed is not asked again when the next candidate is validated against it, and a reduced suite reuses
what the full one already asked (an item edited since is asked again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from evals.scoring import ArmAnswer
from evals.suite import EvalSuite, SuiteItem
from wire.backends import BackendSettings

SEED = 20_251_126
RETRIES = 3


class BackendAnswerError(RuntimeError):
    """A backend kept failing on an item; the answers so far are kept for the next run."""


@dataclass(frozen=True)
class Sampling:
    """How every item is sampled, on both arms."""

    temperature: float = 0.0
    seed: int = SEED

    def key(self) -> str:
        """Short stable id for cache names."""
        return hashlib.sha256(json.dumps([self.temperature, self.seed]).encode()).hexdigest()[:8]


def item_key(item: SuiteItem) -> str:
    """An item's identity in the cache: its content, not just its id."""
    return hashlib.sha256(json.dumps(item.payload(), sort_keys=True).encode()).hexdigest()[:20]


def cache_path(cache_dir: Path, identity: dict[str, Any] | None, settings: BackendSettings,
               sampling: Sampling) -> Path:
    """Where one arm's answers are kept."""
    # Not the URL: the same server behind another port (a restart, another pod) gives the same answers.
    who = json.dumps([identity, settings.served_model_name, settings.stamp.model_dump()], sort_keys=True, default=str)
    digest = hashlib.sha256(who.encode()).hexdigest()[:12]
    return cache_dir / f"{digest}-{sampling.key()}.jsonl"


def read_cache(path: Path) -> dict[str, ArmAnswer]:
    """Answers already given, by item key (a torn last line from an interrupted run is ignored)."""
    answers: dict[str, ArmAnswer] = {}
    if not path.exists():
        return answers
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            answers[row["key"]] = ArmAnswer(row["item_id"], row["text"], row["finish_reason"],
                                            row["output_tokens"], float(row["latency_s"]))
        except (ValueError, KeyError, TypeError):
            continue
    return answers


def request_body(item: SuiteItem, settings: BackendSettings, sampling: Sampling) -> dict[str, Any]:
    """The chat completion request both arms receive for an item."""
    body: dict[str, Any] = {"model": settings.served_model_name,
                            "messages": [m.model_dump() for m in item.messages], "max_tokens": item.max_tokens,
                            "temperature": sampling.temperature, "seed": sampling.seed, "stream": False}
    if item.response_format is not None:
        body["response_format"] = item.response_format
    return body


async def _ask(session: aiohttp.ClientSession, settings: BackendSettings, item: SuiteItem,
               sampling: Sampling) -> ArmAnswer:
    headers = {"x-quantgate-category": item.category}
    if settings.api_key is not None and settings.api_key.get_secret_value():
        headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    last = ""
    for attempt in range(RETRIES):
        started = time.perf_counter()
        try:
            async with session.post(f"{settings.base_url}/v1/chat/completions", json=request_body(item, settings,
                                    sampling), headers=headers) as response:
                body = await response.json(content_type=None)
                if response.status == 200 and isinstance(body, dict) and body.get("choices"):
                    choice = body["choices"][0]
                    usage = body.get("usage") or {}
                    return ArmAnswer(item.id, (choice.get("message") or {}).get("content") or "",
                                     choice.get("finish_reason"), usage.get("completion_tokens"),
                                     time.perf_counter() - started)
                last = f"HTTP {response.status}: {str(body)[:300]}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.5 * 2 ** attempt)
    raise BackendAnswerError(f"{settings.name} failed item {item.id} {RETRIES} times: {last}")


async def answer_suite(suite: EvalSuite, settings: BackendSettings, cache: Path, concurrency: int,
                       sampling: Sampling, on_answer: Callable[[], None] | None = None) -> dict[str, ArmAnswer]:
    """Every item's answer (by item id) from one backend: cached ones read back, the rest asked and appended."""
    cached = read_cache(cache)
    keys = {item.id: item_key(item) for item in suite.items}
    answers = {item.id: cached[keys[item.id]] for item in suite.items if keys[item.id] in cached}
    todo = [item for item in suite.items if item.id not in answers]
    for _ in range(len(suite.items) - len(todo)):
        if on_answer:
            on_answer()
    queue: asyncio.Queue[SuiteItem] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout_s,
                                    sock_read=settings.read_timeout_s)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("a", encoding="utf-8") as out:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async def worker() -> None:
                while not queue.empty():
                    item = queue.get_nowait()
                    answer = await _ask(session, settings, item, sampling)
                    answers[item.id] = answer
                    out.write(json.dumps({"key": keys[item.id], **answer.as_dict()}, ensure_ascii=False) + "\n")
                    out.flush()
                    if on_answer:
                        on_answer()

            # A TaskGroup cancels the other workers when one gives up, before the cache file closes.
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(max(1, concurrency)):
                        group.create_task(worker())
            except* BackendAnswerError as failed:
                raise failed.exceptions[0] from None
    return answers
