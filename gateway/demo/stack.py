"""Start and stop local processes (simulators, gateways) for benchmarks and the demo; nothing is left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    """An ephemeral port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalProcess:
    """A child process in its own session, so stopping it also stops its workers."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Launch, logging to a file."""
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.argv, env={**os.environ, **self.env}, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str, timeout_s: float = 30.0) -> None:
        """Poll `url` until it answers 200; show the log when the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout_s}s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass


@dataclass
class LocalStack:
    """A set of processes stopped together, in reverse start order."""

    workdir: Path
    processes: list[LocalProcess] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> LocalProcess:
        """Start one more process."""
        proc = LocalProcess(name, argv, env or {}, self.workdir / f"{name}.log")
        proc.start()
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        """Stop everything."""
        for proc in reversed(self.processes):
            proc.stop()


def quantgate_argv(*args: str) -> list[str]:
    """argv running the quantgate CLI with this interpreter."""
    return [sys.executable, "-m", "gateway.cli.main", *args]


def simulator_argv(port: int, served_name: str, profile: str = "baseline", ttft_ms: float = 40.0,
                   itl_ms: float = 8.0) -> list[str]:
    """argv of a simulator on loopback."""
    return quantgate_argv("simulate", "--port", str(port), "--served-model-name", served_name, "--profile", profile,
                          "--ttft-ms", str(ttft_ms), "--itl-ms", str(itl_ms))


def gateway_env(db_path: Path, baseline_port: int, candidate_port: int, token: str | None = None,
                baseline_name: str = "baseline", candidate_name: str = "candidate",
                validation_gate: bool = True) -> dict[str, str]:
    """Environment of a gateway on SQLite in front of two local backends (load and fault benchmarks turn the
    pre-ship gate off: they measure routing, not the gate)."""
    env = {
        "QUANTGATE_FLAG_STORE_URL": f"sqlite:///{db_path}",
        "QUANTGATE_BASELINE__BASE_URL": f"http://127.0.0.1:{baseline_port}",
        "QUANTGATE_BASELINE__SERVED_MODEL_NAME": baseline_name,
        "QUANTGATE_CANDIDATE__BASE_URL": f"http://127.0.0.1:{candidate_port}",
        "QUANTGATE_CANDIDATE__SERVED_MODEL_NAME": candidate_name,
    }
    if token:
        env["QUANTGATE_ADMIN_TOKEN"] = token
    if not validation_gate:
        env["QUANTGATE_VALIDATION_GATE"] = "false"
    return env
