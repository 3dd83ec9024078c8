"""`quantgate demo`: two simulated backends, the gateway on SQLite, a rollout ramp, a rollback, a summary."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, RenderableType

from gateway.cli.fitted_table import Column, fitted_table
from gateway.cli.tables import audit_table
from gateway.demo.stack import LocalStack, free_port, gateway_env, quantgate_argv, simulator_argv
from gateway.demo.traffic import Outcome, drive, load_prompts, send_feedback
from gateway.demo.vllm_backends import runtime_version, stamp_from_checkpoint, start_pair

DEMO_POLICY = Path(__file__).parent / "data" / "preship-policy.yaml"
PHASES: list[tuple[str, dict[str, Any]]] = [
    ("rollout 0%", {"rollout_percent": 0, "shadow_percent": 50,
                    "reason": "demo: everything on the baseline, half of the users mirrored to the candidate"}),
    ("rollout 10%", {"rollout_percent": 10, "reason": "demo: canary 10% of users"}),
    ("rollout 50%", {"rollout_percent": 50, "reason": "demo: widen to 50%"}),
    # No flag change: a day of users at 50%, long enough for their thumbs-down to be judged per category.
    ("feedback", {}),
    ("rollback", {"rollback": True, "reason": "demo: roll back with one flip"}),
]
# The feedback phase sends this many times the requests of the others.
FEEDBACK_TRAFFIC = 40


@dataclass
class VllmChoice:
    """Where the real vLLM backends come from (`deploy/local/vllm.sh` prepares both)."""

    python: Path
    models_dir: Path
    candidate: str = "gptq-w4a16"
    ports: tuple[int | None, int | None] = (None, None)


class DemoStack:
    """The processes of the demo and how to reach them."""

    def __init__(self, workdir: Path, vllm: VllmChoice | None = None) -> None:
        self.workdir = workdir
        self.vllm = vllm
        self.stack = LocalStack(workdir)
        self.token = secrets.token_urlsafe(16)
        self.baseline_port, self.candidate_port, self.gateway_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        self.env: dict[str, str] = {}

    def _start_simulators(self) -> dict[str, str]:
        # A quantized candidate: a little faster, a little worse on some slices.
        baseline = self.stack.start("baseline", simulator_argv(self.baseline_port, "baseline", "baseline", 60, 5))
        candidate = self.stack.start("candidate",
                                     simulator_argv(self.candidate_port, "candidate", "candidate", 35, 3.5))
        baseline.wait_ready(f"http://127.0.0.1:{self.baseline_port}/health")
        candidate.wait_ready(f"http://127.0.0.1:{self.candidate_port}/health")
        return gateway_env(self.workdir / "quantgate.db", self.baseline_port, self.candidate_port, self.token)

    def _start_vllm(self, choice: VllmChoice) -> dict[str, str]:
        servers = start_pair(self.stack, choice.python, choice.models_dir, choice.candidate, choice.ports)
        env = {"QUANTGATE_FLAG_STORE_URL": f"sqlite:///{self.workdir / 'quantgate.db'}",
               "QUANTGATE_ADMIN_TOKEN": self.token}
        for server in servers:
            prefix = f"QUANTGATE_{server.variant.upper()}__"
            env[prefix + "BASE_URL"] = server.url
            env[prefix + "SERVED_MODEL_NAME"] = server.served_name
            env[prefix + "STAMP"] = json.dumps(stamp_from_checkpoint(server.model_dir, runtime_version(server.url),
                                                                  server.log_path))
        return env

    def start(self) -> None:
        """Backends first, then the gateway on SQLite in front of them."""
        env = self._start_vllm(self.vllm) if self.vllm else self._start_simulators()
        env["QUANTGATE_POLICY_FILE"] = str(DEMO_POLICY)
        env["QUANTGATE_FEEDBACK__KEYS"] = json.dumps([secrets.token_hex(24)])
        self.env = env
        self.stack.start("gateway", quantgate_argv("serve", "--port", str(self.gateway_port)), env).wait_ready(
            f"{self.url}/readyz")

    def admin(self) -> httpx.Client:
        """Authenticated admin client."""
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {self.token}",
                                                        "x-quantgate-actor": "demo"}, timeout=10)


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0] * 1000:.0f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[int(q * 100) - 1] * 1000:.0f}"


def _phase_table(console: Console, outcomes: list[Outcome]) -> RenderableType:
    rows = []
    for phase, _ in PHASES:
        batch = [o for o in outcomes if o.phase == phase]
        base = sum(o.variant == "baseline" and o.status == 200 for o in batch)
        cand = sum(o.variant == "candidate" and o.status == 200 for o in batch)
        errors = sum(o.status != 200 for o in batch)
        rows.append((phase, str(base), str(cand), str(errors), f"{cand / max(1, len(batch)):.0%}"))
    columns = [Column("phase"), *(Column(name, justify="right")
                                  for name in ("baseline", "candidate", "errors", "candidate share"))]
    return fitted_table(console, "Requests per variant, by rollout phase", columns, rows)


def _latency_table(console: Console, outcomes: list[Outcome]) -> RenderableType:
    rows = []
    for variant in ("baseline", "candidate"):
        served = [o for o in outcomes if o.variant == variant and o.status == 200]
        ttft = [o.ttft_s for o in served if o.ttft_s is not None]
        totals = [o.total_s for o in served]
        rows.append((variant, str(len(served)), _pct(ttft, 0.5), _pct(ttft, 0.95), _pct(totals, 0.5),
                     _pct(totals, 0.95)))
    columns = [Column("variant"), *(Column(name, justify="right") for name in (
        "requests", "TTFT p50 ms", "TTFT p95 ms", "total p50 ms", "total p95 ms"))]
    return fitted_table(console, "Client-side latency per variant (streamed requests for TTFT)", columns, rows)


def _shadow_table(console: Console, demo: DemoStack) -> RenderableType:
    with demo.admin() as admin:
        pairs = admin.get("/admin/comparisons", params={"limit": 1000}).json()["comparisons"]
    rows = []
    for category in sorted({r["category"] for r in pairs}):
        group = [r for r in pairs if r["category"] == category]
        ratios = [r["length_ratio"] for r in group if r["length_ratio"] is not None]
        rows.append((category, str(len(group)), str(sum(r["exact_match"] for r in group)),
                     f"{statistics.median(r['similarity'] for r in group):.2f}",
                     f"{statistics.median(ratios):.2f}" if ratios else "-",
                     str(sum(bool(r["refusal_flip"]) for r in group)),
                     str(sum(bool(r["format_flip"]) for r in group))))
    columns = [Column("category"), *(Column(name, justify="right") for name in (
        "pairs", "exact", "median similarity", "median length ratio", "refusal flips", "format flips"))]
    return fitted_table(console, f"Shadow pairs (baseline vs candidate answers to the same request): {len(pairs)}",
                        columns, rows)


def _feedback_table(console: Console, demo: DemoStack) -> RenderableType:
    """The live verdicts on what the users sent back, per category."""
    with demo.admin() as admin:
        verdicts = admin.get("/admin/verdicts").json()["live_verdicts"]
    rows = [(v["category"], v["verdict"], f"{v['baseline_value']:.0%}", f"{v['candidate_value']:.0%}", str(v["n"]))
            for v in verdicts if v["metric"] == "feedback:thumbs_down"]
    columns = [Column("category"), Column("verdict"), *(Column(name, justify="right") for name in (
        "baseline thumbs-down", "candidate thumbs-down", "answers (smaller arm)"))]
    return fitted_table(console, "User feedback: thumbs-down per answer (POST /v1/feedback), live verdicts within "
                                 "routing strata", columns, rows)


def _apply(admin: httpx.Client, phase: str, change: dict[str, Any]) -> None:
    response = admin.post("/admin/rollback", json={"reason": change["reason"]}) if change.get("rollback") \
        else admin.put("/admin/flags", json=change)
    if response.status_code == 409:
        raise RuntimeError(f"{phase} refused: {response.json()['error']['message']}")
    response.raise_for_status()
    time.sleep(0.6)  # a little over two flag polls: every worker now routes on the new flags


def _run_phases(demo: DemoStack, console: Console, requests_per_phase: int, concurrency: int) -> list[Outcome]:
    prompts = load_prompts()
    outcomes: list[Outcome] = []
    with demo.admin() as admin:
        for index, (phase, change) in enumerate(PHASES):
            if change:
                _apply(admin, phase, change)
            started = time.perf_counter()
            count = requests_per_phase * (FEEDBACK_TRAFFIC if phase == "feedback" else 1)
            batch = asyncio.run(drive(demo.url, phase, prompts, count, concurrency,
                                      offset=index * requests_per_phase))
            candidate = sum(o.variant == "candidate" for o in batch)
            disliked = asyncio.run(send_feedback(demo.url, batch, seed=index))
            console.print(f"  {phase:<12} {len(batch)} requests in {time.perf_counter() - started:.1f}s, "
                          f"{candidate} on the candidate, {disliked} thumbs-down sent back")
            outcomes += batch
    return outcomes


def _gate(demo: DemoStack, console: Console, per_category: int) -> None:
    """The pre-ship gate: a rollout refused before any validation, a validation, the rollout accepted."""
    with demo.admin() as admin:
        refused = admin.put("/admin/flags", json={"rollout_percent": 10, "reason": "demo: canary before validating"})
    if refused.status_code != 409:
        raise RuntimeError(f"the gate let an unvalidated rollout through: {refused.status_code} {refused.text}")
    console.print(f"  gate: rollout refused (409): {refused.json()['error']['message']}")
    argv = quantgate_argv("validate", "--per-category", str(per_category), "--concurrency", "16", "--apply-pins",
                          "--cache-dir", str(demo.workdir / "answers"), "--card-dir", str(demo.workdir / "cards"),
                          "--actor", "demo")
    # The validation's table is printed inside this console: laid out for its width.
    result = subprocess.run(argv, env={**os.environ, **demo.env, "COLUMNS": str(console.width)},
                            capture_output=True, text=True, timeout=3600)
    if result.returncode not in (0, 3, 4):
        raise RuntimeError(f"quantgate validate failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    console.print(result.stdout.rstrip())


def _summarize(demo: DemoStack, console: Console, outcomes: list[Outcome]) -> bool:
    console.print(_phase_table(console, outcomes))
    console.print(_latency_table(console, outcomes))
    with demo.admin() as admin:
        console.print(audit_table(console, admin.get("/admin/audit", params={"limit": 20}).json()["entries"]))
    console.print(_shadow_table(console, demo))
    console.print(_feedback_table(console, demo))
    after_rollback = [o for o in outcomes if o.phase == "rollback"]
    clean = bool(after_rollback) and all(o.variant == "baseline" and o.status == 200 for o in after_rollback)
    if clean:
        console.print("[bold green]After the rollback flip every request went to the baseline.[/bold green]")
    else:
        console.print("[bold red]Some requests after the rollback did not reach the baseline.[/bold red]")
    console.print(f"Metrics: {demo.url}/metrics   (quantgate_requests_total, "
                  "quantgate_time_to_first_token_seconds, quantgate_rollback_active, ...)")
    return clean


def _hold(demo: DemoStack, console: Console) -> None:
    console.print(f"\nStack is up. Gateway: {demo.url}   admin token: {demo.token}")
    console.print(f"  curl -N {demo.url}/v1/chat/completions -H 'content-type: application/json' "
                  "-d '{\"model\":\"quantgate\",\"stream\":true,"
                  "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'")
    console.print(f"  quantgate flags show --url {demo.url} --token {demo.token}")
    console.print("  OpenAI SDK: OpenAI(base_url='" + demo.url + "/v1', api_key='unused')")
    console.print("Press Ctrl-C to stop everything.")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


def run_demo(console: Console, keep_running: bool, requests_per_phase: int, concurrency: int,
             vllm: VllmChoice | None = None, validate_per_category: int | None = None) -> int:
    """Run the demo; returns the process exit code (0 when the rollback was clean)."""
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-demo-"))
    demo = DemoStack(workdir, vllm)
    try:
        backends = f"real vLLM (bf16 vs {vllm.candidate})" if vllm else "baseline and candidate simulators"
        console.print(f"[bold]quantgate demo[/bold]: {backends}, gateway on SQLite ({workdir})")
        demo.start()
        console.print(f"Gateway ready at {demo.url}; validating the candidate before any user sees it")
        _gate(demo, console, validate_per_category or (8 if vllm else 50))
        console.print(f"Driving {requests_per_phase} mixed requests per phase")
        clean = _summarize(demo, console, _run_phases(demo, console, requests_per_phase, concurrency))
        if keep_running:
            _hold(demo, console)
        return 0 if clean else 1
    except (RuntimeError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        demo.stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
