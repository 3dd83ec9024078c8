"""Several gateway replicas (processes, each with several workers) on one flag store."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.demo.stack import LocalStack, free_port, quantgate_argv, simulator_argv


@dataclass
class Replica:
    """One `quantgate serve` process."""

    url: str


def start_replicas(stack: LocalStack, store_url: str, baseline: tuple[str, str], candidate: tuple[str, str],
                   token: str, count: int = 2, workers: int = 2, poll_s: float = 0.25) -> list[Replica]:
    """Start `count` gateways of `workers` workers each; returns once all are ready."""
    replicas = []
    for i in range(count):
        port = free_port()
        metrics_dir = stack.workdir / f"metrics-{i}"
        metrics_dir.mkdir(exist_ok=True)
        env = {"QUANTGATE_FLAG_STORE_URL": store_url, "QUANTGATE_ADMIN_TOKEN": token,
               "QUANTGATE_FLAG_POLL_INTERVAL_S": str(poll_s), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
               "QUANTGATE_BASELINE__BASE_URL": baseline[0], "QUANTGATE_BASELINE__SERVED_MODEL_NAME": baseline[1],
               "QUANTGATE_CANDIDATE__BASE_URL": candidate[0], "QUANTGATE_CANDIDATE__SERVED_MODEL_NAME": candidate[1],
               # A propagation benchmark moves the rollout; the pre-ship gate is not what it measures.
               "QUANTGATE_VALIDATION_GATE": "false"}
        proc = stack.start(f"gateway-{i}", quantgate_argv("serve", "--host", "127.0.0.1", "--port", str(port),
                                                          "--workers", str(workers)), env)
        replicas.append((proc, f"http://127.0.0.1:{port}"))
    for proc, url in replicas:
        proc.wait_ready(f"{url}/readyz", 60)
        wait_for_workers(url, workers, 60)
    return [Replica(url) for _, url in replicas]


def wait_for_workers(url: str, workers: int, timeout_s: float = 60.0) -> None:
    """Block until `workers` workers of the gateway at `url` have started serving."""
    # /readyz answers as soon as one worker serves; the others may still be importing, and a worker not yet
    # started has no flags to report (a slow machine showed exactly that).
    started = time.perf_counter()
    while not worker_floor(url, "quantgate_workers") >= workers:  # NaN (no sample yet) is not enough either
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{url}: fewer than {workers} workers started in {timeout_s}s")
        time.sleep(0.05)


def worker_floor(url: str, metric: str) -> float:
    """The metric's value aggregated over one replica's workers (livemin gauges: the slowest worker)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                return sample.value
    return float("nan")


def wait_until_all(replicas: list[Replica], version: int, timeout_s: float = 10.0) -> float:
    """Seconds until every worker of every replica routes on flag-set `version` or newer."""
    started = time.perf_counter()
    pending = list(replicas)
    while pending and time.perf_counter() - started < timeout_s:
        pending = [r for r in pending if not worker_floor(r.url, "quantgate_flag_set_version") >= version]
        if pending:
            time.sleep(0.005)
    if pending:
        raise TimeoutError(f"flag-set version {version} not reached in {timeout_s}s")
    return time.perf_counter() - started


def upgraded_store(url: str) -> str:
    """Run `quantgate db upgrade` on a server database, as an operator would; returns the URL."""
    subprocess.run([sys.executable, "-m", "gateway.cli.main", "db", "upgrade", "--url", url], check=True,
                   capture_output=True)
    return url


def start_simulator(stack: LocalStack, name: str = "m") -> tuple[str, str]:
    """One simulator serving model `name`; returns (base URL, served name) once it answers."""
    port = free_port()
    stack.start("simulator", simulator_argv(port, name)).wait_ready(f"http://127.0.0.1:{port}/health")
    return f"http://127.0.0.1:{port}", name


def workdir_stack(path: Path) -> LocalStack:
    """A process stack logging into `path`."""
    path.mkdir(parents=True, exist_ok=True)
    return LocalStack(path)
