"""Two simulators and a `quantgate serve` gateway as separate processes, with the knobs the faults turn."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.demo.stack import LocalProcess, LocalStack, free_port, gateway_env, quantgate_argv, simulator_argv

TOKEN = "fault-suite-admin-token"


@dataclass
class FaultStack:
    """Running processes and their URLs."""

    stack: LocalStack
    gateway: LocalProcess
    url: str
    baseline: LocalProcess
    baseline_url: str
    candidate: LocalProcess
    candidate_url: str

    def admin(self) -> httpx.Client:
        """An authenticated client of the admin API."""
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)

    def set_flags(self, **changes: Any) -> dict[str, Any]:
        """PUT /admin/flags, raising on failure."""
        with self.admin() as admin:
            response = admin.put("/admin/flags", json={"reason": "fault suite", **changes})
            response.raise_for_status()
            return response.json()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a gateway metric's samples carrying `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))

    def ready(self) -> dict[str, Any]:
        """The gateway's /readyz body."""
        return httpx.get(f"{self.url}/readyz", timeout=10).json()

    @staticmethod
    def control(sim_url: str, **changes: Any) -> None:
        """Change a simulator's behaviour (faults, latency, hang) at run time."""
        httpx.put(f"{sim_url}/control", json=changes, timeout=10).raise_for_status()

    @staticmethod
    def sim_stats(sim_url: str) -> dict[str, float]:
        """A simulator's request counters."""
        return httpx.get(f"{sim_url}/stats", timeout=10).json()

    def kill_candidate(self) -> None:
        """SIGKILL the candidate backend: no goodbye, connections reset."""
        assert self.candidate.process is not None
        os.killpg(self.candidate.process.pid, signal.SIGKILL)

    def sigterm_gateway(self) -> None:
        """SIGTERM the gateway, as Kubernetes does when it stops a pod."""
        assert self.gateway.process is not None
        os.kill(self.gateway.process.pid, signal.SIGTERM)


@contextmanager
def fault_stack(workdir: Path, store_url: str | None = None, itl_ms: float = 4.0,
                **settings: str) -> Iterator[FaultStack]:
    """Start everything (SQLite store unless `store_url`); `settings` become QUANTGATE_* variables."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = LocalStack(workdir)
    try:
        ports = {name: free_port() for name in ("baseline", "candidate", "gateway")}
        sims = {name: stack.start(name, simulator_argv(ports[name], name, name, ttft_ms=20, itl_ms=itl_ms))
                for name in ("baseline", "candidate")}
        for name, sim in sims.items():
            sim.wait_ready(f"http://127.0.0.1:{ports[name]}/health", 60)
        env = gateway_env(workdir / "flags.db", ports["baseline"], ports["candidate"], token=TOKEN,
                          validation_gate=False)
        if store_url:
            env["QUANTGATE_FLAG_STORE_URL"] = store_url
        env.update({f"QUANTGATE_{key.upper()}": value for key, value in settings.items()})
        gateway = stack.start("gateway", quantgate_argv("serve", "--port", str(ports["gateway"])), env)
        url = f"http://127.0.0.1:{ports['gateway']}"
        gateway.wait_ready(f"{url}/readyz", 60)
        yield FaultStack(stack, gateway, url, sims["baseline"], f"http://127.0.0.1:{ports['baseline']}",
                         sims["candidate"], f"http://127.0.0.1:{ports['candidate']}")
    finally:
        stack.stop()
