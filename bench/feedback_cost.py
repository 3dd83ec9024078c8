"""What feedback costs: CPU and bytes per answer for its token, and `POST /v1/feedback` throughput on one worker.

Run: .venv/bin/python -m bench.feedback_cost [--concurrency 16] [--seconds 10]

The token: `FeedbackTokens.issue` plus the key group's hash and the answer's count among those served, timed over
200,000 answers in this process, and the header's size on the wire. The endpoint: a gateway (one worker, SQLite,
group-committed batches) started by the project's own stack, each request a distinct answer's token, so every one
is a new row.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from flags.bucketing import live_key_group
from flags.feedback_store import FeedbackStore
from gateway.demo.stack import LocalStack, free_port, gateway_env, quantgate_argv, simulator_argv
from gateway.feedback.served import ServedAnswers
from gateway.feedback.token import FeedbackTokens
from gateway.proxy.relay import FEEDBACK_HEADER

KEY = "feedback-bench-key-" + "k" * 24
POLICY = "name: feedback-bench\ndefaults: {}\nfeedback:\n  thumbs_down: {max_increase_pp: 1}\n"


def token_cost(answers: int = 200_000) -> tuple[float, int]:
    """(CPU µs per answer, header bytes on the wire): the token and the answer's count among those served."""
    tokens = FeedbackTokens([KEY.encode()], ttl_s=3600)
    # The store is never written here (no flush task): only the hot path's in-memory count is timed.
    served = ServedAnswers(FeedbackStore("sqlite://"), flush_s=3600)
    started = time.process_time()
    token = ""
    for i in range(answers):
        group = live_key_group(f"user-{i}")
        token = tokens.issue("candidate", "json", 12.5, group)
        served.count("candidate", "json", 12.5, group)
    per_answer = (time.process_time() - started) / answers * 1e6
    return per_answer, len(FEEDBACK_HEADER) + 2 + len(token) + 2  # "name: value\r\n"


async def _post_feedback(url: str, concurrency: int, seconds: float) -> tuple[int, int, float]:
    """(recorded, errors, elapsed s) posting distinct answers' tokens for `seconds`."""
    tokens = FeedbackTokens([KEY.encode()], ttl_s=3600)
    counter = iter(range(10**9))
    recorded = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal recorded, errors
        while time.perf_counter() < deadline:
            token = tokens.issue("baseline", "chat", 0.0, next(counter) % 32)
            response = await client.post(url, json={"token": token, "signal": "thumbs_down"})
            if response.status_code == 200 and response.json()["recorded"]:
                recorded += 1
            else:
                errors += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return recorded, errors, time.perf_counter() - started


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    console = Console(width=120)
    micros, header = token_cost()
    table = Table(title="Feedback token per answer (this process, 200,000 answers)")
    for column in ("CPU µs per answer", "header bytes per answer"):
        table.add_column(column)
    table.add_row(f"{micros:.2f}", str(header))
    console.print(table)
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-feedback-bench-"))
    (workdir / "policy.yaml").write_text(POLICY)
    stack = LocalStack(workdir)
    sim_port, gw_port = free_port(), free_port()
    try:
        stack.start("simulator", simulator_argv(sim_port, "bench")).wait_ready(f"http://127.0.0.1:{sim_port}/health")
        env = gateway_env(workdir / "bench.db", sim_port, sim_port, baseline_name="bench", candidate_name="bench",
                          validation_gate=False)
        env.update({"QUANTGATE_FEEDBACK__KEYS": f'["{KEY}"]', "QUANTGATE_POLICY_FILE": str(workdir / "policy.yaml")})
        gateway = stack.start("gateway", quantgate_argv("serve", "--port", str(gw_port)), env)
        gateway.wait_ready(f"http://127.0.0.1:{gw_port}/readyz")
        url = f"http://127.0.0.1:{gw_port}/v1/feedback"
        asyncio.run(_post_feedback(url, 4, 1.0))  # warm-up
        recorded, errors, elapsed = asyncio.run(_post_feedback(url, args.concurrency, args.seconds))
    finally:
        stack.stop()
    table = Table(title=f"POST /v1/feedback, one worker, SQLite, {args.concurrency} concurrent clients")
    for column in ("recorded/s", "errors", "seconds"):
        table.add_column(column)
    table.add_row(f"{recorded / elapsed:.0f}", str(errors), f"{elapsed:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
