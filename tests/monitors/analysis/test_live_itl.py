"""Inter-token latency p95 judged on live traffic like TTFT p95: per routing stratum, its key groups' design
effect allowed for, a candidate decoding twice as slowly shown beyond its tolerance and an identical one not; the
per-group series stay off `/metrics`."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry

from monitors.analysis.live import read_live_counts, unpaired_verdicts
from monitors.analysis.policy import LatencyTolerance, MetricTolerances, RegressionPolicy
from monitors.analysis.verdicts import REGRESSION, SINGLE
from monitors.metrics import GatewayMetrics, RequestRecord

POLICY = RegressionPolicy(name="itl", min_paired_samples=50,
                          defaults=MetricTolerances(itl_p95=LatencyTolerance(max_increase_pct=20)))


def _itl_verdict(seed: int, slowdown: float) -> tuple[str, float, str, str]:
    """600 users with five streamed answers each (64 tokens), arms by user; the candidate's gaps `slowdown` times
    the baseline's. The live ITL p95 verdict, its design effect and unit, and the exposed metrics."""
    rng = np.random.default_rng(seed)
    metrics = GatewayMetrics(CollectorRegistry())
    for user in range(600):
        variant, key = ("candidate" if user % 2 else "baseline"), f"user-{seed}-{user}"
        level = rng.lognormal(np.log(0.02), 0.2)  # a user's prompts decode at their own pace
        for _ in range(5):
            gap = level * rng.lognormal(0, 0.1) * (slowdown if variant == "candidate" else 1.0)
            ttft = 0.05
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, ttft + 63 * gap, ttft, 64,
                                                  candidate_share=50.0, routing_key=key))
    verdict = next(v for v in unpaired_verdicts(read_live_counts(metrics.registry), POLICY, family=1, looks=SINGLE)
                   if v.metric == "itl_p95")
    return verdict.verdict, verdict.design_effect, verdict.unit, metrics.render(None)[0].decode()


def test_a_candidate_decoding_twice_as_slowly_regresses_the_live_itl_p95() -> None:
    verdict, design, unit, exposed = _itl_verdict(1, 2.0)
    assert verdict == REGRESSION
    assert unit.startswith("user (routing key): inter-token latencies counted in 32 key groups") and design > 1
    assert "quantgate_live_itl_seconds_bucket" in exposed and "quantgate_live_key_group_itl" not in exposed


def test_identical_arms_are_not_an_itl_regression() -> None:
    assert all(_itl_verdict(100 + seed, 1.0)[0] != REGRESSION for seed in range(10))
