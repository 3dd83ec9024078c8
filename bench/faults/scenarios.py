"""The five faults a gateway must survive, each returning the figures a reader needs (seconds, counts)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bench.faults.load import LoadResult, RequestOutcome, chat, run_load, stream_once
from bench.faults.stack import FaultStack, fault_stack
from bench.postgres import PostgresServer

Figures = dict[str, Any]


async def _until(check: Any, limit_s: float, every_s: float = 0.05) -> float | None:
    """Seconds until `check()` (run in a thread) is true, or None when `limit_s` passed first."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if await asyncio.to_thread(check):
            return time.perf_counter() - started
        await asyncio.sleep(every_s)
    return None


def _summary(outcomes: list[RequestOutcome]) -> Figures:
    return {"requests": len(outcomes),
            "failed_before_first_byte": sum(o.failed_before_first_byte for o in outcomes),
            "in_band_errors": sum(o.error_event is not None for o in outcomes),
            "cut_without_error": sum(o.cut_without_error for o in outcomes)}


async def kill_candidate_under_load(workdir: Path, clients: int = 32, duration_s: float = 6.0) -> Figures:
    """SIGKILL the candidate at half rollout while streams run: nothing may fail before its first byte."""
    with fault_stack(workdir) as stack:
        stack.set_flags(rollout_percent=50)
        if await _until(lambda: stack.metric("quantgate_flag_rollout_percent") == 50, 10) is None:
            raise RuntimeError("the gateway never applied rollout 50%")
        load = asyncio.create_task(run_load(stack.url, clients, duration_s))
        await asyncio.sleep(duration_s / 3)
        stack.kill_candidate()
        result = await load
        failovers = stack.metric("quantgate_failovers_total")
    return {**_summary(result.outcomes), "failed_over_to_baseline": int(failovers)}


async def _write_during_fault(stack: FaultStack, reason: str) -> Figures:
    started = time.perf_counter()
    with stack.admin() as admin:
        response = await asyncio.to_thread(admin.put, "/admin/flags", json={"rollout_percent": 60, "reason": reason})
    message = (response.json().get("error") or {}).get("message", "") if response.status_code != 200 else ""
    return {"status": response.status_code, "answered_s": round(time.perf_counter() - started, 2),
            "message": message[:300]}


async def _store_fault(stack: FaultStack, start: Any, end: Any, name: str) -> Figures:
    await asyncio.to_thread(start)
    figures = {"shown_down_s": await _until(lambda: not stack.ready()["flag_store_reachable"], 30),
               "write": await _write_during_fault(stack, f"{name} write")}
    await asyncio.sleep(1.0)
    await asyncio.to_thread(end)
    figures["back_up_s"] = await _until(lambda: stack.ready()["flag_store_reachable"], 60)
    return figures


async def flag_store_faults_under_load(workdir: Path, pg: PostgresServer, clients: int = 16) -> Figures:
    """Freeze (SIGSTOP), then stop PostgreSQL under load: traffic flows, the store shows down, writes fail cleanly."""
    poll_s, statement_s = 0.25, 2.0
    with fault_stack(workdir, store_url=pg.url, flag_poll_interval_s=str(poll_s)) as stack:
        before = stack.set_flags(rollout_percent=10)
        stop = asyncio.Event()
        load = asyncio.create_task(run_load(stack.url, clients, 120.0, stop=stop))
        figures: Figures = {"bound_s": 2 * poll_s + statement_s}
        figures["frozen"] = await _store_fault(stack, pg.freeze, pg.thaw, "frozen")
        figures["stopped"] = await _store_fault(stack, pg.stop, pg.start, "stopped")
        stop.set()
        figures["traffic"] = _summary((await load).outcomes)
        with stack.admin() as admin:
            flags = admin.get("/admin/flags").json()
            reasons = {entry["reason"] for entry in admin.get("/admin/audit").json()["entries"]}
    figures["writes_landed_after_failure"] = sum(
        r in reasons for r, fig in (("frozen write", figures["frozen"]), ("stopped write", figures["stopped"]))
        if fig["write"]["status"] != 200)
    figures["flags_unchanged"] = flags["version"] == before["version"] and flags["rollout_percent"] == 10
    return figures


async def _traffic(stack: FaultStack, clients: int, seconds: float) -> LoadResult:
    return await run_load(stack.url, clients, seconds)


async def hung_shadow_under_load(workdir: Path, clients: int = 16, phase_s: float = 4.0) -> Figures:
    """Hang the shadow target, then bring it back: the primary does not notice; shadows resume within seconds."""
    with fault_stack(workdir, shadow__breaker_stall_s="2") as stack:
        stack.set_flags(shadow_percent=100)
        if await _until(lambda: stack.metric("quantgate_flag_shadow_percent") == 100, 10) is None:
            raise RuntimeError("the gateway never applied shadow 100%")
        healthy = await _traffic(stack, clients, phase_s)
        stack.control(stack.candidate_url, operational={"hang": True})
        hung = await _traffic(stack, clients, phase_s)
        opened = stack.metric("quantgate_shadow_circuit_open", variant="candidate")
        stack.control(stack.candidate_url, operational={"hang": False})
        compared = stack.metric("quantgate_shadow_comparisons_total")
        traffic = asyncio.create_task(_traffic(stack, clients, phase_s))
        resumed = await _until(lambda: stack.metric("quantgate_shadow_comparisons_total") >= compared + 3, phase_s)
        after = await traffic
    p95_before, p95_hung = LoadResult.ttft_p95(healthy.outcomes), LoadResult.ttft_p95(hung.outcomes)
    return {"ttft_p95_healthy_ms": round(1000 * (p95_before or 0), 1),
            "ttft_p95_hung_ms": round(1000 * (p95_hung or 0), 1),
            "ttft_p95_ratio": round((p95_hung or 0) / p95_before, 2) if p95_before else None,
            "circuit_opened": opened == 1, "shadows_resumed_s": resumed,
            **_summary(healthy.outcomes + hung.outcomes + after.outcomes)}


async def disconnecting_clients(workdir: Path, clients: int = 200) -> Figures:
    """200 clients leave after their first token: every upstream stream is closed, the backend stops generating."""
    with fault_stack(workdir, itl_ms=20) as stack:
        limits = httpx.Limits(max_connections=clients)

        async def leave_early(client: httpx.AsyncClient, i: int) -> bool:
            body = chat(f"long question {i}", 300, metadata={"category": "long"})
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        return True  # leaving the block closes the connection mid-stream
            return False

        async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as client:
            started = sum(await asyncio.gather(*(leave_early(client, i) for i in range(clients))))
        aborted_s = await _until(lambda: stack.sim_stats(stack.baseline_url)["aborted"] >= clients, 15)
        stats = stack.sim_stats(stack.baseline_url)
    return {"clients": clients, "streams_started": started, "aborted_upstream": int(stats["aborted"]),
            "all_aborted_within_s": aborted_s}


async def sigterm_with_live_streams(workdir: Path, streams: int = 20, drain_s: float = 2.0) -> Figures:
    """SIGTERM with streams in flight: short ones finish, long ones end with an in-band error, none is cut silently."""
    with fault_stack(workdir, itl_ms=25, drain_timeout_s=str(drain_s)) as stack:
        async with httpx.AsyncClient(base_url=stack.url, timeout=60,
                                     limits=httpx.Limits(max_connections=streams)) as client:
            bodies = [chat(f"story {i}", 20 if i % 2 else 400, metadata={"category": "long"}) for i in range(streams)]
            tasks = [asyncio.create_task(stream_once(client, body, f"k{i}")) for i, body in enumerate(bodies)]
            await asyncio.sleep(0.5)
            stack.sigterm_gateway()
            outcomes = await asyncio.gather(*tasks)
        assert stack.gateway.process is not None
        exit_code = await asyncio.to_thread(stack.gateway.process.wait, 30)
    return {"streams": streams, "drain_timeout_s": drain_s, "completed": sum(o.done for o in outcomes),
            "ended_with_error_event": sum(o.error_event is not None for o in outcomes),
            "cut_without_error": sum(o.cut_without_error for o in outcomes),
            "no_response": sum(o.status is None for o in outcomes), "exit_code": exit_code}
