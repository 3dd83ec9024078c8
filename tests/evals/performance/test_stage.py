"""The performance stage on two simulators: a candidate twice as slow is `slower` with an interval below 1 and
named with its kernel, a faster and smaller one is `improved` and meets its targets, and the card's headline says
which without a quality table in the way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from evals.performance.stage import PerformanceResult, run_stage
from evals.suite import builtin_suite
from monitors.analysis.performance_policy import PerformancePolicy, PerformanceTarget
from simulator.profile import LatencyProfile
from tests.conftest import Simulator, backend
from wire.backends import ProvenanceStamp

# Sleeps well above a busy machine's scheduling noise, and rounds enough for the paired t interval (5 degrees of
# freedom at 99.7%) to separate a 2x difference however loaded the machine is.
BASE = LatencyProfile(ttft_ms=16, ttft_sigma=0.1, itl_ms=5, itl_sigma=0.1)
SLOW = LatencyProfile(ttft_ms=32, ttft_sigma=0.1, itl_ms=10, itl_sigma=0.1)
FAST = LatencyProfile(ttft_ms=8, ttft_sigma=0.1, itl_ms=2.5, itl_sigma=0.1)
PROFILE = PerformancePolicy(concurrency=[1, 4], requests=6, rounds=6, warmup=1, output_tokens=10, targets=[
    PerformanceTarget(metric="stream_tokens_per_s", concurrency=4, min_ratio=1.3),
    PerformanceTarget(metric="ttft_p95", max_ratio=1.2),
    PerformanceTarget(metric="memory_bytes", max_ratio=0.7)])


async def _stage(make_simulator: Callable[..., Awaitable[Simulator]], latency: LatencyProfile,
                 memory: int, kernel: str = "DequantWNA16LinearKernel") -> PerformanceResult:
    base = await make_simulator("base", latency=BASE, resident_memory_bytes=1_000_000_000)
    cand = await make_simulator("cand", latency=latency, resident_memory_bytes=memory)
    stamp = ProvenanceStamp(model="m", quantization="w4a16", bits=4, kernel=kernel, hardware="cpu:avx2:float32",
                            weights_bytes=108_000_000)
    base_stamp = ProvenanceStamp(model="m", weights_bytes=257_000_000)
    backends = {"baseline": backend("baseline", base.url, base.name).model_copy(update={"stamp": base_stamp}),
                "candidate": backend("candidate", cand.url, cand.name).model_copy(update={"stamp": stamp})}
    items = builtin_suite().reduced(2).items
    return await run_stage(backends, items, PROFILE, significance=0.05)


def _rows(result: PerformanceResult) -> dict[tuple[str, Any], Any]:
    return {(r.metric, r.concurrency): r for r in result.rows}


async def test_a_candidate_twice_as_slow_is_slower_and_named_with_its_kernel(
        make_simulator: Callable[..., Awaitable[Simulator]]) -> None:
    result = await _stage(make_simulator, SLOW, memory=500_000_000)
    for concurrency in (1, 4):
        # Per stream (bootstrap over requests) the interval is tight at these sizes; the aggregate (a t interval
        # over 6 paired rounds) says the same figure, more loosely.
        stream = _rows(result)[("stream_tokens_per_s", concurrency)]
        assert stream.verdict == "slower" and stream.interval[1] < 1
        assert 0.35 < _rows(result)[("aggregate_tokens_per_s", concurrency)].ratio < 0.7
        assert _rows(result)[("ttft_p95", concurrency)].verdict == "slower"
        named = [c for c in result.callouts() if c.startswith("TTFT p95") and f"at {concurrency} " in c]
        assert named and "DequantWNA16LinearKernel" in named[0] and "cpu:avx2:float32" in named[0]
    assert result.outcome() == "fail"  # its throughput target is missed
    assert "worse than the baseline" in result.headline()
    # Memory is a reading, not a sample: half the baseline's, inside its 0.7x target.
    memory = _rows(result)[("memory_bytes", None)]
    assert memory.verdict == "improved" and memory.target_met is True and memory.ratio == pytest.approx(0.5)


async def test_a_faster_smaller_candidate_is_improved_and_meets_its_targets(
        make_simulator: Callable[..., Awaitable[Simulator]]) -> None:
    result = await _stage(make_simulator, FAST, memory=400_000_000, kernel="CPUWNA16LinearKernel")
    rows = _rows(result)
    stream = rows[("stream_tokens_per_s", 4)]
    assert stream.verdict == "improved" and stream.interval[0] > 1 and stream.target_met is True
    assert rows[("aggregate_tokens_per_s", 4)].ratio > 1.3
    assert rows[("itl_p50", 1)].verdict == "improved" and rows[("total_p50", 1)].verdict == "improved"
    assert result.callouts() == [] and result.outcome() == "pass"
    # The size half from the stamps: a reading, like memory.
    assert rows[("weights_bytes", None)].verdict == "improved" and rows[("weights_bytes", None)].ratio < 0.5
    assert result.level == pytest.approx(1 - 0.05 / result.family) and result.family == 18
