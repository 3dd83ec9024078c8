"""From timed rounds to the trade table: each figure per arm, the candidate's ratio with its interval, the
committed target, and what the interval shows (`evals.performance.ratios` for the methods)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evals.performance.measure import ArmTimings
from evals.performance.ratios import Ratio, clustered_quantile_ratio, quantile_ratio, round_ratio
from monitors.analysis.performance_policy import HIGHER_IS_BETTER, PerformancePolicy

IMPROVED, NOT_SHOWN = "improved", "not shown"
# Everything else: "slower".
WORSE = {"memory_bytes": "larger", "weights_bytes": "larger", "cost_per_million_tokens": "costlier",
         "kv_cache_tokens": "smaller"}
UNITS = {"stream_tokens_per_s": "tokens/s", "aggregate_tokens_per_s": "tokens/s", "requests_per_s": "requests/s",
         "memory_bytes": "bytes", "weights_bytes": "bytes", "cost_per_million_tokens": "USD",
         "kv_cache_tokens": "tokens"}
LABELS = {"stream_tokens_per_s": "tokens/s per stream (median)", "aggregate_tokens_per_s": "tokens/s, all streams",
          "requests_per_s": "requests/s", "ttft_p50": "TTFT p50", "ttft_p95": "TTFT p95", "itl_p50": "ITL p50",
          "itl_p95": "ITL p95", "total_p50": "total time p50", "total_p95": "total time p95",
          "memory_bytes": "resident memory", "weights_bytes": "weights on disk", "kv_cache_tokens": "KV cache capacity",
          "cost_per_million_tokens": "cost per million output tokens"}
_PER_REQUEST = {"ttft_p50": ("ttft_s", 0.5), "ttft_p95": ("ttft_s", 0.95), "total_p50": ("total_s", 0.5),
                "total_p95": ("total_s", 0.95), "stream_tokens_per_s": ("stream_tokens_per_s", 0.5)}
_METHODS = {"round": "rounds paired: t interval of the log ratios (geometric mean)",
            "request": "percentile bootstrap of the quantile ratio, arms resampled independently",
            "gaps": "percentile bootstrap of the quantile ratio, requests resampled whole (cluster bootstrap)",
            "reading": "a reading of each stamp, no sampling interval",
            "kv": "vLLM's cache_config_info (KV blocks x tokens per block) read after the timing, no sampling "
                  "interval",
            # vLLM V1 runs its engine (weights, KV cache) in a separate process from the API server that exports
            # process_resident_memory_bytes: there the reading misses the model (measured: 742 vs 752 MiB).
            "memory": "each server's process_resident_memory_bytes read after the timing, no sampling interval (vLLM: "
                      "the API server process only, not the engine's)",
            "cost": "hourly cost over the aggregate throughput; interval carried from the throughput's"}


@dataclass(frozen=True)
class PerformanceRow:
    """One line of the trade table."""

    metric: str
    concurrency: int | None
    baseline: float
    candidate: float
    ratio: float
    interval: tuple[float, float]
    target: str | None
    target_met: bool | None
    verdict: str
    method: str

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        return {**asdict(self), "interval": list(self.interval), "label": LABELS[self.metric],
                "unit": UNITS.get(self.metric, "s")}


def verdict(metric: str, ratio: Ratio) -> str:
    """improved / not shown / slower (larger, costlier): where the interval lies against 1 (the baseline)."""
    better_high = metric in HIGHER_IS_BETTER
    if (ratio.low > 1) if better_high else (ratio.high < 1):
        return IMPROVED
    if (ratio.high < 1) if better_high else (ratio.low > 1):
        return WORSE.get(metric, "slower")
    return NOT_SHOWN


def target_met(metric: str, ratio: Ratio, policy: PerformancePolicy, concurrency: int | None) -> tuple[str | None,
                                                                                                   bool | None]:
    """The target's words, and whether the interval shows it met (True), missed (False) or neither (None)."""
    target = policy.target(metric, concurrency)
    if target is None:
        return None, None
    if target.min_ratio is not None:
        met = True if ratio.low >= target.min_ratio else False if ratio.high < target.min_ratio else None
        return f"at least {target.min_ratio:g}x", met
    assert target.max_ratio is not None
    met = True if ratio.high <= target.max_ratio else False if ratio.low > target.max_ratio else None
    return f"at most {target.max_ratio:g}x", met


def _per_round(arm: ArmTimings, metric: str) -> np.ndarray:
    if metric == "aggregate_tokens_per_s":
        return np.array([r.output_tokens / r.wall_s for r in arm.rounds])
    return np.array([len(r.requests) / r.wall_s for r in arm.rounds])


def _per_request(arm: ArmTimings, field: str) -> np.ndarray:
    return np.array([getattr(request, field) for r in arm.rounds for request in r.requests])


def _gaps(arm: ArmTimings) -> list[np.ndarray]:
    return [np.array(request.gaps_s) for r in arm.rounds for request in r.requests if request.gaps_s]


def concurrency_ratios(arms: dict[str, ArmTimings], level: float, seed: int) -> dict[str, tuple[Ratio, str]]:
    """Every per-concurrency figure's ratio and the kind of interval it has."""
    base, cand = arms["baseline"], arms["candidate"]
    ratios = {metric: (round_ratio(_per_round(base, metric), _per_round(cand, metric), level), "round")
              for metric in ("aggregate_tokens_per_s", "requests_per_s")}
    for index, (metric, (field, q)) in enumerate(_PER_REQUEST.items()):
        ratios[metric] = (quantile_ratio(_per_request(base, field), _per_request(cand, field), q, level,
                                         seed + index), "request")
    for q, metric in ((0.5, "itl_p50"), (0.95, "itl_p95")):
        ratios[metric] = (clustered_quantile_ratio(_gaps(base), _gaps(cand), q, level, seed + 10), "gaps")
    return ratios


def cost_ratio(throughput: Ratio, hourly: dict[str, float | None]) -> Ratio | None:
    """Cost per million output tokens of each arm from its hourly cost and aggregate throughput (None: a cost is
    not configured)."""
    base_cost, cand_cost = hourly.get("baseline"), hourly.get("candidate")
    if base_cost is None or cand_cost is None or base_cost <= 0:
        return None
    per_million = [cost / (tps * 3600) * 1e6 for cost, tps in ((base_cost, throughput.baseline),
                                                              (cand_cost, throughput.candidate))]
    relative = cand_cost / base_cost
    return Ratio(per_million[0], per_million[1], relative / throughput.ratio, relative / throughput.high,
                 relative / throughput.low)


def row(metric: str, concurrency: int | None, ratio: Ratio, kind: str, policy: PerformancePolicy) -> PerformanceRow:
    """One line, judged."""
    words, met = target_met(metric, ratio, policy, concurrency)
    return PerformanceRow(metric, concurrency, ratio.baseline, ratio.candidate, ratio.ratio, (ratio.low, ratio.high),
                          words, met, verdict(metric, ratio), _METHODS[kind])
