"""SmolLM2's bf16 baseline and its quantized candidates on vLLM's CPU build: per-category quality.

Run (after `deploy/local/vllm.sh models`):
    .venv/bin/python -m bench.models [--per-category 50] [--checkpoints bf16 gptq-w4a16 w8a8 rtn-w4a16]

Each checkpoint answers the same generated prompts (split `eval`) at temperature 0 with a fixed seed; then per
candidate and category against the baseline: exact-match share, median similarity, refusal rate, format validity,
repetition, task accuracy and median length ratio. Answers are kept under bench/results/models/ and reused.

Speed, memory and size are not measured here any more: one checkpoint at a time, minutes apart, is no comparison
(this table once read W8A8 at 0.39x the baseline's tokens/s, another run 1.22x). `quantgate validate`'s performance
stage (`bench.validate_models --policy deploy/policies/smollm2-payoff.yaml`) times both arms together, alternating,
with intervals: it is the one figure of speed.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.model_quality import CategoryComparison, ScoredAnswer, compare_category, score
from evals.templates import CATEGORIES, mixed
from gateway.demo.stack import LocalStack
from gateway.demo.vllm_backends import BASELINE_CHECKPOINT, CANDIDATES, START_TIMEOUT_S, VllmServer, start_server

RESULTS = Path("bench/results/models")
LONG_CAP = 192  # long answers capped so that four checkpoints fit in a benchmark run on two cores


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


@dataclass
class CheckpointRun:
    """Everything measured on one checkpoint."""

    name: str
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
    if path.exists() and not args.fresh:
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


def run_checkpoint(name: str, args: argparse.Namespace, items: list[dict[str, Any]], console: Console) -> CheckpointRun:
    """One checkpoint's answers (those of an earlier run on the same prompts are reused)."""
    return CheckpointRun(name, quality_pass(name, args, items, console))


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
    parser.add_argument("--fresh", action="store_true", help="answer again even when answers are kept")
    args = parser.parse_args()
    console = Console(width=140)
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {os.cpu_count() - 1})  # type: ignore[operator]  # the servers own core 0
    items = list(mixed(args.per_category, "eval"))
    console.print(f"{len(items)} prompts ({args.per_category} per category) on {', '.join(args.checkpoints)}")
    runs = [run_checkpoint(name, args, items, console) for name in args.checkpoints]
    baseline = next((r for r in runs if r.name == BASELINE_CHECKPOINT), None)
    for run in runs:
        if baseline is None or run is baseline or not run.answers:
            continue
        comparisons = [compare_category(category, [a for a in baseline.answers if a.category == category],
                                        [a for a in run.answers if a.category == category]) for category in CATEGORIES]
        console.print(quality_table(run.name, comparisons))


if __name__ == "__main__":
    main()
