"""SmolLM2's bf16 baseline and its quantized candidates on vLLM's CPU build: cost, speed and per-category quality.

Run (after `deploy/local/vllm.sh models`):
    .venv/bin/python -m bench.models [--per-category 50] [--checkpoints bf16 gptq-w4a16 w8a8 rtn-w4a16]

Phase `perf`: each checkpoint served alone on core 0 while this process runs on the other core: size on disk,
server RSS, TTFT p50/p95 and tokens/s at 1 and 4 streams (64 forced tokens per request). Phase `quality`: each
checkpoint answers the same generated prompts (split `eval`) at temperature 0 with a fixed seed;
then per candidate and category against the baseline: exact-match share, median similarity, refusal rate, format
validity, repetition, task accuracy and median length ratio. Answers are kept under bench/results/models/ and
reused by a `--phases perf` run on the same prompts, so the two phases can run at different times.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from bench.model_quality import CategoryComparison, ScoredAnswer, compare_category, score
from evals.templates import CATEGORIES, mixed
from gateway.demo.stack import LocalStack
from gateway.demo.vllm_backends import BASELINE_CHECKPOINT, CANDIDATES, START_TIMEOUT_S, VllmServer, start_server

RESULTS = Path("bench/results/models")
PERF_TOKENS = 64
LONG_CAP = 192  # long answers capped so that four checkpoints fit in a benchmark run on two cores


@dataclass
class Speed:
    """Streaming figures at one concurrency."""

    streams: int
    ttft_s: list[float]
    tokens: int
    elapsed_s: float

    def pct(self, q: float) -> float:
        """TTFT quantile in ms."""
        return statistics.quantiles(self.ttft_s, n=100, method="inclusive")[int(q * 100) - 1] * 1000

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second over all streams."""
        return self.tokens / self.elapsed_s


async def _stream_once(client: httpx.AsyncClient, server: VllmServer, i: int) -> tuple[float, int]:
    body = {"model": server.served_name, "stream": True, "max_tokens": PERF_TOKENS, "min_tokens": PERF_TOKENS,
            "temperature": 0, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": f"Tell me a long story about lighthouse number {i}."}]}
    started, first, tokens = time.perf_counter(), None, 0
    async with client.stream("POST", f"{server.url}/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])
            if first is None and any((c.get("delta") or {}).get("content") for c in event.get("choices", [])):
                first = time.perf_counter()
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
    return (first or time.perf_counter()) - started, tokens


async def measure_speed(server: VllmServer, streams: int, requests: int) -> Speed:
    """`requests` streamed requests, `streams` at a time."""
    results: list[tuple[float, int]] = []
    counter = iter(range(requests))
    async with httpx.AsyncClient(timeout=300) as client:
        async def worker() -> None:
            for i in counter:
                results.append(await _stream_once(client, server, i))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(streams)))
        elapsed = time.perf_counter() - started
    return Speed(streams, [r[0] for r in results], sum(r[1] for r in results), elapsed)


async def answer_all(server: VllmServer, items: list[dict[str, Any]], concurrency: int) -> list[ScoredAnswer]:
    """Every prompt once, non-streamed, temperature 0 and a fixed seed, scored as the gateway would."""
    answers: list[ScoredAnswer] = []
    queue = iter(items)
    async with httpx.AsyncClient(timeout=600) as client:
        async def worker() -> None:
            for item in queue:
                body = {"model": server.served_name, "messages": item["messages"], "temperature": 0, "seed": 7,
                        "max_tokens": min(int(item.get("max_tokens", 128)), LONG_CAP)}
                if item.get("response_format"):
                    body["response_format"] = item["response_format"]
                reply = (await client.post(f"{server.url}/v1/chat/completions", json=body)).json()
                choice = reply["choices"][0]
                answers.append(score(item, choice["message"].get("content") or "", choice.get("finish_reason"),
                                     reply.get("usage", {}).get("completion_tokens")))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def _rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def _disk_mb(model_dir: Path) -> float:
    return sum(p.stat().st_size for p in model_dir.glob("*.safetensors")) / 2**20


@dataclass
class CheckpointRun:
    """Everything measured on one checkpoint."""

    name: str
    disk_mb: float
    rss_mb: float
    speeds: list[Speed]
    answers: list[ScoredAnswer]


def _serve(name: str, args: argparse.Namespace, cores: str) -> tuple[LocalStack, VllmServer]:
    stack = LocalStack(Path(tempfile.mkdtemp(prefix=f"quantgate-bench-{name}-")))
    server = start_server(stack, args.vllm_python, args.models_dir, name, name, cores)
    try:
        stack.processes[-1].wait_ready(f"{server.url}/health", START_TIMEOUT_S)
    except RuntimeError:
        stack.stop()
        raise
    return stack, server


def _answers_file(name: str, items: list[dict[str, Any]]) -> Path:
    digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:12]
    return RESULTS / f"{name}-{digest}.jsonl"


def quality_pass(name: str, args: argparse.Namespace, items: list[dict[str, Any]],
                 console: Console) -> list[ScoredAnswer]:
    """Every prompt on one checkpoint, served on core 0 (answers at temperature 0 do not depend on timing)."""
    path = _answers_file(name, items)
    if path.exists() and "quality" not in args.phases:
        return [ScoredAnswer(**json.loads(line)) for line in path.read_text().splitlines()]
    stack, server = _serve(name, args, "0")
    try:
        started = time.perf_counter()
        answers = asyncio.run(answer_all(server, items, args.concurrency))
    finally:
        stack.stop()
    console.print(f"  {name}: {len(answers)} answers in {time.perf_counter() - started:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a.__dict__, ensure_ascii=False) + "\n" for a in answers))
    return answers


def perf_pass(name: str, args: argparse.Namespace) -> tuple[float, float, list[Speed]]:
    """Size, RSS and streaming speed of one checkpoint served alone on core 0 (this process is on the other)."""
    stack, server = _serve(name, args, "0")
    try:
        asyncio.run(measure_speed(server, 1, 2))  # warm-up
        speeds = [asyncio.run(measure_speed(server, s, args.perf_requests * s)) for s in (1, 4)]
        rss = _rss_mb(stack.processes[-1].process.pid)  # type: ignore[union-attr]
    finally:
        stack.stop()
    return _disk_mb(server.model_dir), rss, speeds


def run_checkpoint(name: str, args: argparse.Namespace, items: list[dict[str, Any]], console: Console) -> CheckpointRun:
    """The phases asked for on one checkpoint; answers of an earlier quality pass are reused when not re-run."""
    answers = quality_pass(name, args, items, console) if "quality" in args.phases or _answers_file(
        name, items).exists() else []
    disk, rss, speeds = perf_pass(name, args) if "perf" in args.phases else (0.0, 0.0, [])
    return CheckpointRun(name, disk, rss, speeds, answers)


def speed_table(runs: list[CheckpointRun]) -> Table:
    """Size, memory and speed per checkpoint."""
    table = Table(title=f"Serving cost on vLLM CPU (one core, {PERF_TOKENS} forced tokens per request)")
    for column in ("checkpoint", "disk MB", "server RSS MB", "TTFT p50/p95 ms @1", "tok/s @1",
                   "TTFT p50/p95 ms @4", "tok/s @4"):
        table.add_column(column, justify="left" if column == "checkpoint" else "right")
    for run in runs:
        if not run.speeds:
            continue
        one, four = run.speeds
        table.add_row(run.name, f"{run.disk_mb:.0f}", f"{run.rss_mb:.0f}", f"{one.pct(0.5):.0f} / {one.pct(0.95):.0f}",
                      f"{one.tokens_per_s:.1f}", f"{four.pct(0.5):.0f} / {four.pct(0.95):.0f}",
                      f"{four.tokens_per_s:.1f}")
    return table


def _pair(values: tuple[float, float] | None) -> str:
    return "-" if values is None else f"{values[0]:.0%} → {values[1]:.0%}"


def quality_table(name: str, comparisons: list[CategoryComparison]) -> Table:
    """One candidate against the baseline, per category."""
    table = Table(title=f"{name} vs {BASELINE_CHECKPOINT} (baseline → candidate where two figures)")
    for column in ("category", "pairs", "exact", "similarity", "refusal", "format valid", "repetition", "task ok",
                   "length ratio"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for c in comparisons:
        table.add_row(c.category, str(c.pairs), f"{c.exact_share:.0%}", f"{c.similarity_median:.2f}", _pair(c.refusal),
                      _pair(c.format_valid), _pair(c.repetition), _pair(c.task), f"{c.length_ratio_median:.2f}")
    return table


def main() -> None:
    """Measure every checkpoint, then compare each candidate with the baseline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get(
        "QUANTGATE_MODELS_DIR", Path.home() / ".cache/quantgate/models")))
    parser.add_argument("--vllm-python", type=Path, default=Path(".venv-vllm/bin/python"))
    parser.add_argument("--checkpoints", nargs="+", default=[BASELINE_CHECKPOINT, *CANDIDATES])
    parser.add_argument("--per-category", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--perf-requests", type=int, default=6, help="streamed requests per stream and concurrency")
    parser.add_argument("--phases", nargs="+", choices=["perf", "quality"], default=["perf", "quality"],
                        help="without quality, the answers of the last quality pass on the same prompts are used")
    args = parser.parse_args()
    console = Console(width=140)
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {os.cpu_count() - 1})  # type: ignore[operator]  # the servers own core 0
    items = list(mixed(args.per_category, "eval"))
    console.print(f"{len(items)} prompts ({args.per_category} per category) on {', '.join(args.checkpoints)}")
    runs = [run_checkpoint(name, args, items, console) for name in args.checkpoints]
    if "perf" in args.phases:
        console.print(speed_table(runs))
    baseline = next((r for r in runs if r.name == BASELINE_CHECKPOINT), None)
    for run in runs:
        if baseline is None or run is baseline or not run.answers:
            continue
        comparisons = [compare_category(category, [a for a in baseline.answers if a.category == category],
                                        [a for a in run.answers if a.category == category]) for category in CATEGORIES]
        console.print(quality_table(run.name, comparisons))


if __name__ == "__main__":
    main()
