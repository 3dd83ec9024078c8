"""Shared fixtures: real uvicorn servers on 127.0.0.1 ephemeral ports, simulators, and gateways in front."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.settings import GatewaySettings
from simulator.app import create_simulator_app
from simulator.profile import LatencyProfile, SimulatorConfig
from wire.backends import BackendSettings, ProvenanceStamp

ADMIN_TOKEN = "test-admin-token"
FAST = LatencyProfile(ttft_ms=2, ttft_sigma=0, itl_ms=1, itl_sigma=0)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it: asyncio's own transports set it only when the socket's proto says TCP, and without
    # it a stream's small writes wait on delayed ACKs (a 40 ms first token), unlike under uvloop in production.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


ServeFn = Callable[[Any], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFn]:
    """Start an ASGI app under a real uvicorn server on an ephemeral port; returns its base URL."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        sock = _bound_socket()
        server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
        task = asyncio.create_task(server._serve(sockets=[sock]))  # noqa: SLF001 - no signal capture in tests
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        running.append((server, task))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, _ in reversed(running):
        server.should_exit = True
    for _, task in reversed(running):
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


@dataclass
class Simulator:
    """A running simulator and the knobs tests turn."""

    url: str
    name: str

    async def control(self, **changes: Any) -> dict[str, Any]:
        """PUT /control with a partial config."""
        async with httpx.AsyncClient() as client:
            response = await client.put(f"{self.url}/control", json=changes)
            response.raise_for_status()
            return response.json()

    async def stats(self) -> dict[str, float]:
        """Request, completion and abort counters."""
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{self.url}/stats")).json()

    async def wait_for_aborts(self, expected: int, timeout_s: float = 5.0) -> dict[str, float]:
        """Counters once `expected` requests were aborted by their client (or when time runs out)."""
        for _ in range(int(timeout_s / 0.05)):
            stats = await self.stats()
            if stats["aborted"] >= expected:
                return stats
            await asyncio.sleep(0.05)
        return await self.stats()


@pytest.fixture
async def make_simulator(serve: ServeFn) -> Callable[..., Awaitable[Simulator]]:
    """Factory of simulators; fast latencies unless a test asks otherwise."""

    async def make(name: str = "baseline", **config: Any) -> Simulator:
        config.setdefault("latency", FAST)
        app = create_simulator_app(SimulatorConfig(served_model_name=name, **config))
        return Simulator(await serve(app), name)

    return make


@pytest.fixture
async def baseline_sim(make_simulator: Callable[..., Awaitable[Simulator]]) -> Simulator:
    """The full-precision arm."""
    return await make_simulator("baseline-model")


@pytest.fixture
async def candidate_sim(make_simulator: Callable[..., Awaitable[Simulator]]) -> Simulator:
    """The quantized arm (faithful until a test injects faults)."""
    return await make_simulator("candidate-model")


def backend(name: str, url: str, served: str, **extra: Any) -> BackendSettings:
    """Backend settings for a local server."""
    return BackendSettings(name=name, base_url=url, served_model_name=served,
                           stamp=ProvenanceStamp(model=f"tiny-{name}", quantization="none" if name == "baseline"
                                                 else "w8a8", bits=16 if name == "baseline" else 8), **extra)


@dataclass
class Gateway:
    """A running gateway with an authenticated admin client."""

    url: str
    app: Any
    settings: GatewaySettings

    @property
    def runtime(self) -> Any:
        """The worker's runtime (flags cache, metrics, backends)."""
        return self.app.state.runtime

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """Client for the public API."""
        kwargs.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, **kwargs)

    def admin(self) -> httpx.AsyncClient:
        """Client for the admin API, with the bearer token."""
        return httpx.AsyncClient(base_url=self.url, timeout=30, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})

    async def wait_for_backend_checks(self, timeout_s: float = 5.0) -> list[Any]:
        """The runtime's backend checks, once the start-up check has run (or time ran out)."""
        for _ in range(int(timeout_s / 0.05)):
            if self.runtime.backend_checks:
                break
            await asyncio.sleep(0.05)
        return self.runtime.backend_checks

    async def set_flags(self, **changes: Any) -> dict[str, Any]:
        """PUT /admin/flags and wait until this worker routes on the result."""
        changes.setdefault("reason", "test")
        async with self.admin() as admin:
            response = await admin.put("/admin/flags", json=changes)
        assert response.status_code == 200, response.text
        return response.json()


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(serve: ServeFn, tmp_path: Path, baseline_sim: Simulator,
                       candidate_sim: Simulator) -> GatewayFactory:
    """Factory of gateways on a per-test SQLite store, in front of the two simulators."""

    async def make(wait_for_flags: bool = True, **overrides: Any) -> Gateway:
        values: dict[str, Any] = {
            "flag_store_url": f"sqlite:///{tmp_path / 'flags.db'}",
            "flag_poll_interval_s": 0.05,
            "admin_token": ADMIN_TOKEN,
            "baseline": backend("baseline", baseline_sim.url, baseline_sim.name),
            "candidate": backend("candidate", candidate_sim.url, candidate_sim.name),
            # These gateways exercise routing and flags; tests/gateway/test_validation_gate.py turns the gate on.
            "validation_gate": False,
        }
        values.update(overrides)
        settings = GatewaySettings(**values)
        app = create_app(settings)
        gateway = Gateway(await serve(app), app, settings)
        if wait_for_flags:
            for _ in range(200):
                if gateway.runtime.flags.loaded:
                    break
                await asyncio.sleep(0.02)
            assert gateway.runtime.flags.loaded
        return gateway

    return make


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    """A gateway with default flags (everything on the baseline)."""
    return await make_gateway()


@pytest.fixture
def process_env(tmp_path: Path, baseline_sim: Simulator, candidate_sim: Simulator) -> dict[str, str]:
    """Environment of a `quantgate serve` process in front of the two simulators, on a per-test SQLite store."""
    from gateway.demo.stack import gateway_env

    env = gateway_env(tmp_path / "flags.db", 0, 0, token=ADMIN_TOKEN, validation_gate=False)
    env.update({"QUANTGATE_BASELINE__BASE_URL": baseline_sim.url,
                "QUANTGATE_BASELINE__SERVED_MODEL_NAME": baseline_sim.name,
                "QUANTGATE_CANDIDATE__BASE_URL": candidate_sim.url,
                "QUANTGATE_CANDIDATE__SERVED_MODEL_NAME": candidate_sim.name})
    return env


def chat_body(prompt: str = "hello there", **extra: Any) -> dict[str, Any]:
    """A chat completion request body."""
    return {"model": "quantgate", "messages": [{"role": "user", "content": prompt}], "max_tokens": 16, **extra}

async def wait_for_pairs(gateway: Gateway, expected: int, timeout_s: float = 20.0) -> dict[str, Any]:
    """Poll the admin API until `expected` comparisons are stored; returns the last page."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    page: dict[str, Any] = {"total": 0, "comparisons": []}
    async with gateway.admin() as admin:
        while loop.time() < deadline:
            await gateway.runtime.writer.flush()
            page = (await admin.get("/admin/comparisons", params={"limit": 1000})).json()
            if page["total"] >= expected:
                return page
            await asyncio.sleep(0.05)
    return page


@pytest.fixture
async def shadow_gateway(make_gateway: GatewayFactory) -> Gateway:
    """Primary on the baseline, every request mirrored to the candidate, fast record flushes."""
    gateway = await make_gateway(comparisons={"flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    return gateway


@pytest.fixture(scope="session")
def postgres_cluster_url() -> Iterator[str]:
    """One throwaway PostgreSQL cluster for the whole session."""
    from bench.postgres import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_server() -> Iterator[Any]:
    """A migrated cluster of its own, for tests that freeze or stop it (the shared one must stay up)."""
    from bench.postgres import postgres_server
    from gateway.cli.main import app as cli

    with postgres_server() as server:
        result = CliRunner().invoke(cli, ["db", "upgrade", "--url", server.url])
        assert result.exit_code == 0, result.output
        yield server


@pytest.fixture
def postgres_url(postgres_cluster_url: str) -> str:
    """A fresh, empty database on the session's cluster."""
    import uuid

    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_cluster_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return postgres_cluster_url.rsplit("/", 1)[0] + f"/{name}"
