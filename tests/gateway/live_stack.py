"""A gateway and two simulators served from a background thread, for synchronous (hypothesis) tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.http_protocol import GatewayHttpProtocol
from gateway.settings import GatewaySettings
from simulator.app import create_simulator_app
from simulator.profile import SimulatorConfig
from tests.conftest import ADMIN_TOKEN, FAST, backend


class ThreadedServers:
    """uvicorn servers on one event loop in a daemon thread; stopped together."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[tuple[uvicorn.Server, asyncio.Future[None]]] = []

    def serve(self, app: Any, http: Any = "httptools") -> str:
        """Start `app` on an ephemeral loopback port; returns its base URL once it is up."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False, http=http))
        task = asyncio.run_coroutine_threadsafe(server._serve(sockets=[sock]), self.loop)  # noqa: SLF001
        self.servers.append((server, task))  # type: ignore[arg-type]
        for _ in range(1000):
            if server.started or task.done():
                break
            threading.Event().wait(0.01)
        if task.done():
            task.result()
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        """Ask every server to exit, wait, stop the loop."""
        for server, _ in self.servers:
            server.should_exit = True
        for _, task in self.servers:
            try:
                task.result(timeout=10)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - shutting down regardless
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def live_gateway(tmp: Path, **overrides: Any) -> Iterator[str]:
    """A gateway on SQLite in front of a baseline and a candidate simulator; yields its URL."""
    servers = ThreadedServers()
    try:
        base = servers.serve(create_simulator_app(SimulatorConfig(served_model_name="baseline-model", latency=FAST)))
        cand = servers.serve(create_simulator_app(SimulatorConfig(served_model_name="candidate-model", latency=FAST)))
        settings = GatewaySettings(flag_store_url=f"sqlite:///{tmp / 'flags.db'}", flag_poll_interval_s=0.05,
                                   admin_token=ADMIN_TOKEN, baseline=backend("baseline", base, "baseline-model"),
                                   candidate=backend("candidate", cand, "candidate-model"),
                                   **{"validation_gate": False, **overrides})
        GatewayHttpProtocol.header_timeout_s = settings.client_header_timeout_s
        GatewayHttpProtocol.max_header_bytes = settings.client_max_header_bytes
        yield servers.serve(create_app(settings), http=GatewayHttpProtocol)
    finally:
        servers.stop()
