"""What `quantgate serve` prints: one banner line, then (when asked) one JSON line per request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from gateway.demo.stack import LocalStack, free_port, quantgate_argv
from gateway.server import startup_banner
from gateway.settings import load_settings
from tests.conftest import Simulator, chat_body


async def test_banner_and_json_access_log(tmp_path: Path, process_env: dict[str, str], baseline_sim: Simulator,
                                          candidate_sim: Simulator) -> None:
    port = free_port()
    stack = LocalStack(tmp_path)
    proc = stack.start("gateway", quantgate_argv("serve", "--port", str(port), "--access-log"), process_env)
    try:
        await asyncio.to_thread(proc.wait_ready, f"http://127.0.0.1:{port}/readyz", 60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answer = await client.post("/v1/chat/completions", json=chat_body(),
                                       headers={"x-request-id": "req-operator-1"})
        assert answer.status_code == 200
        await asyncio.sleep(0.3)
    finally:
        await asyncio.to_thread(stack.stop)
    lines = proc.log_path.read_text().splitlines()
    banner = [line for line in lines if line.startswith("quantgate listening on")]
    assert len(banner) == 1, lines[:5]
    assert f"http://127.0.0.1:{port}" in banner[0] and baseline_sim.url in banner[0] and candidate_sim.url in banner[0]
    assert f"model {candidate_sim.name}" in banner[0] and "flags.db" in banner[0] and "access log on" in banner[0]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    completion = next(r for r in records if r["path"] == "/v1/chat/completions")
    assert completion["status"] == 200 and completion["variant"] == "baseline"
    assert completion["request_id"] == "req-operator-1"
    assert isinstance(completion["duration_ms"], float) and isinstance(completion["first_byte_ms"], float)
    assert any(r["path"] == "/readyz" for r in records)


def test_the_banner_never_prints_a_store_password() -> None:
    settings = load_settings(flag_store_url="postgresql+psycopg://quantgate:s3cret-pw@db:5432/quantgate")
    banner = startup_banner(settings)
    assert "s3cret-pw" not in banner and "quantgate:***@db:5432" in banner
