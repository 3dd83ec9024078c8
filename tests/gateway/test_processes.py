"""Every process `quantgate serve` starts stops with it, and every port shows one metrics view.

The gateway runs in its own session, so the processes it started (workers, the admin process, the guard, the
multiprocessing resource tracker) are the members of that session; after a SIGTERM to the main process, as a
kubelet sends it, none may be left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.replicas import wait_for_workers
from gateway.demo.stack import LocalProcess, LocalStack, free_port, quantgate_argv
from tests.conftest import ADMIN_TOKEN, chat_body
from tests.helpers import metric_value


def _session_members(session_id: int) -> list[int]:
    """Live (not zombie) processes whose session is `session_id`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == session_id:
            members.append(int(entry.name))
    return members


def _wait_for_no_members(session_id: int, timeout_s: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    members = _session_members(session_id)
    while members and time.monotonic() < deadline:
        time.sleep(0.1)
        members = _session_members(session_id)
    return members


@dataclass
class Served:
    process: LocalProcess
    public: str
    admin: str | None


@pytest.fixture
async def start_served(tmp_path: Path, process_env: dict[str, str]) -> AsyncIterator[object]:
    stack = LocalStack(tmp_path)

    async def start(workers: int, admin_port: bool, guard: bool = False, name: str = "gateway") -> Served:
        port = free_port()
        argv = ["serve", "--port", str(port), "--workers", str(workers)]
        admin = None
        if admin_port:
            admin_port_number = free_port()
            argv += ["--admin-port", str(admin_port_number)]
            admin = f"http://127.0.0.1:{admin_port_number}"
        env = {**process_env, "QUANTGATE_FLAG_POLL_INTERVAL_S": "0.1",
               "QUANTGATE_GUARD__ENABLED": "true" if guard else "false"}
        proc = stack.start(name, quantgate_argv(*argv), env)
        public = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(proc.wait_ready, f"{public}/readyz", 60)
        if admin:
            await asyncio.to_thread(proc.wait_ready, f"{admin}/healthz", 60)
        await asyncio.to_thread(wait_for_workers, admin or public, workers)
        return Served(proc, public, admin)

    try:
        yield start
    finally:
        await asyncio.to_thread(stack.stop)


@pytest.mark.parametrize(("workers", "admin_port", "guard"),
                         [(1, True, True), (1, False, False), (2, True, False), (2, False, True)])
async def test_sigterm_to_the_main_process_stops_every_process_it_started(
        start_served, workers: int, admin_port: bool, guard: bool) -> None:  # type: ignore[no-untyped-def]
    served: Served = await start_served(workers, admin_port, guard)
    process = served.process.process
    assert process is not None
    assert len(_session_members(process.pid)) >= 1 + (1 if admin_port else 0) + (1 if guard else 0)
    os.kill(process.pid, signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 30) in (0, -signal.SIGTERM)
    assert await asyncio.to_thread(_wait_for_no_members, process.pid) == []
    for url in filter(None, (served.public, served.admin)):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)


async def test_a_taken_admin_port_refuses_to_start_instead_of_running_half(
        start_served, tmp_path: Path, process_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    first: Served = await start_served(1, True)
    assert first.admin is not None
    taken = first.admin.rsplit(":", 1)[1]
    stack = LocalStack(tmp_path)
    second = stack.start("second", quantgate_argv("serve", "--port", str(free_port()), "--admin-port", taken),
                         process_env)
    try:
        assert second.process is not None
        assert await asyncio.to_thread(second.process.wait, 30) == 1
    finally:
        await asyncio.to_thread(stack.stop)
    assert f"cannot listen on 127.0.0.1:{taken} (admin port)" in second.log_path.read_text()


@pytest.mark.parametrize("workers", [1, 2])
async def test_both_ports_show_the_same_metrics(start_served, workers: int) -> None:  # type: ignore[no-untyped-def]
    served: Served = await start_served(workers, True)
    assert served.admin is not None
    async with httpx.AsyncClient(base_url=served.public, timeout=30) as client:
        for i in range(20):
            response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=2),
                                         headers={"x-quantgate-key": f"user-{i}", "x-quantgate-category": "chat"})
            assert response.status_code == 200
        public = (await client.get("/metrics")).text
    async with httpx.AsyncClient(base_url=served.admin, timeout=30,
                                 headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        admin_text = (await admin.get("/metrics")).text
    for text in (public, admin_text):
        assert metric_value(text, "quantgate_requests_total", category="chat") == 20
        # The admin process shares the view but is no serving worker.
        assert metric_value(text, "quantgate_workers") == workers
