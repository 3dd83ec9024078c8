"""The overview's live payoff half: how fast each arm answers now, what it holds in memory, what the validation
measured it costs, next to the live quality verdicts.

Speed comes from this gateway's own histograms (every worker in multiprocess mode): TTFT and inter-token latency
per arm over all categories, and the per-stream decode speed they imply (1 / median gap). Memory is read from each
backend's `/metrics` when it answers within a second. Cost per million output tokens needs a throughput measured at
a known batch profile, which live traffic (at whatever load it has) does not give: it is the validation's, at its
profile's concurrencies, and says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from evals.performance.memory import both_arms
from monitors.analysis.live import histogram_quantile
from wire.backends import BackendSettings

ARMS = ("baseline", "candidate")
_HISTOGRAMS = {"quantgate_time_to_first_token_seconds_bucket": "ttft",
               "quantgate_inter_token_latency_seconds_bucket": "itl"}


@dataclass
class ArmSpeed:
    """One arm as this gateway has seen it answer."""

    variant: str
    answers: int = 0
    ttft_p95_ms: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    memory_mib: float | None = None
    hourly_cost_usd: float | None = None

    @property
    def stream_tokens_per_s(self) -> float | None:
        """Decode speed of one stream: one token per median gap."""
        return 1000 / self.itl_p50_ms if self.itl_p50_ms else None


def _histograms(registry: CollectorRegistry) -> dict[tuple[str, str], dict[float, float]]:
    """Cumulative buckets per (arm, ttft|itl), summed over categories."""
    out: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in registry.collect():
        for sample in family.samples:
            kind = _HISTOGRAMS.get(sample.name)
            if kind is not None:
                out[(sample.labels.get("variant", ""), kind)][float(sample.labels["le"])] += sample.value
    return out


def _ms(buckets: dict[float, float] | None, q: float) -> float | None:
    if not buckets or max(buckets.values()) == 0:
        return None
    return histogram_quantile(buckets, q) * 1000


async def live_payoff(registry: CollectorRegistry, backends: dict[str, BackendSettings],
                      validation: dict[str, Any] | None) -> dict[str, Any]:
    """Both arms' live speed and memory, and the validation's payoff half (headline and cost rows) when it has one."""
    histograms = _histograms(registry)
    memory = (await both_arms(backends, timeout_s=1.0))["memory_bytes"]
    arms = []
    for arm in ARMS:
        ttft, itl = histograms.get((arm, "ttft")), histograms.get((arm, "itl"))
        arms.append(ArmSpeed(arm, int(max(ttft.values())) if ttft else 0, _ms(ttft, 0.95), _ms(itl, 0.5),
                             _ms(itl, 0.95), memory[arm] / 2**20 if memory[arm] else None,
                             backends[arm].hourly_cost_usd))
    performance = (validation or {}).get("performance") or {}
    costs = [r for r in performance.get("rows", []) if r["metric"] == "cost_per_million_tokens"]
    return {"arms": arms, "headline": performance.get("headline"), "costs": costs,
            "validation_id": (validation or {}).get("id")}
