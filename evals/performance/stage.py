"""The performance stage: measure both arms on the policy's batch profile, read their memory, judge the ratios."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.performance.judging import IMPROVED, LABELS, NOT_SHOWN, PerformanceRow, concurrency_ratios, cost_ratio, row
from evals.performance.measure import ARMS, measure
from evals.performance.memory import both_arms
from evals.performance.ratios import Ratio
from evals.suite import SuiteItem
from monitors.analysis.performance_policy import PerformancePolicy
from wire.backends import BackendSettings

# Ratios with an interval per concurrency (cost joins them when both hourly costs are configured).
PER_CONCURRENCY = 9
# What to do about a figure the candidate is worse on.
SPEED_ADVICE = "; check kernel support before shipping"
ADVICE = {"memory_bytes": " (as its /metrics reports it: for vLLM the API server process, not the engine's)",
          "weights_bytes": "", "kv_cache_tokens": ": fewer tokens in flight fit on the device",
          "cost_per_million_tokens": "; it is slower per dollar"}
# The figures the headline and the warnings name (the table has every one).
HEADLINE = ("aggregate_tokens_per_s", "ttft_p95", "itl_p95", "memory_bytes", "weights_bytes", "kv_cache_tokens",
            "cost_per_million_tokens")


@dataclass(frozen=True)
class PerformanceResult:
    """The payoff half of one validation."""

    profile: dict[str, Any]
    level: float
    family: int
    rows: list[PerformanceRow]
    stamps: dict[str, dict[str, str]]
    gates: bool

    def outcome(self) -> str:
        """pass / fail / inconclusive against the targets (pass when there are none)."""
        met = [r.target_met for r in self.rows if r.target is not None]
        if any(m is False for m in met):
            return "fail"
        return "inconclusive" if any(m is None for m in met) else "pass"

    def _where(self, r: PerformanceRow) -> str:
        stamp = self.stamps.get("candidate", {})
        kernel = stamp.get("kernel") or "an unrecorded kernel"
        hardware = stamp.get("hardware") or "unrecorded hardware"
        streams = "" if r.concurrency is None else f" at {r.concurrency} stream{'s' if r.concurrency > 1 else ''}"
        return f"{streams} on {hardware} with {kernel}"

    def callouts(self) -> list[str]:
        """Each headline figure the candidate is shown worse on, by name, with the kernel it ran on."""
        return [f"{LABELS[r.metric]} {r.ratio:.2f}x the baseline [{r.interval[0]:.2f}, {r.interval[1]:.2f}]"
                f"{self._where(r)}: {r.verdict} than the baseline{ADVICE.get(r.metric, SPEED_ADVICE)}"
                for r in self.rows if r.verdict not in (IMPROVED, NOT_SHOWN) and r.metric in HEADLINE]

    def headline(self) -> str:
        """One line for the top of the card: is the candidate faster, smaller, cheaper, and how sure."""
        shown = [r for r in self.rows if r.metric in HEADLINE]
        worse = [r for r in shown if r.verdict not in (IMPROVED, NOT_SHOWN)]
        better = [r for r in shown if r.verdict == IMPROVED]

        def said(rows: list[PerformanceRow]) -> str:
            return ", ".join(f"{LABELS[r.metric]}{'' if r.concurrency is None else f' @{r.concurrency}'} "
                             f"{r.ratio:.2f}x [{r.interval[0]:.2f}, {r.interval[1]:.2f}]" for r in rows)

        parts = []
        if worse:
            parts.append(f"worse than the baseline: {said(worse)}")
        if better:
            parts.append(f"better: {said(better)}")
        if not parts:
            parts.append("no difference from the baseline shown on any figure")
        return (f"{'; '.join(parts)} (candidate / baseline, {self.level:.1%} intervals; targets "
                f"{'gate' if self.gates else 'warn'}: {self.outcome()})")

    def as_dict(self) -> dict[str, Any]:
        """The stored form (inside the validation record)."""
        return {"profile": self.profile, "level": self.level, "family": self.family, "gates": self.gates,
                "outcome": self.outcome(), "headline": self.headline(), "callouts": self.callouts(),
                "kernels": {arm: self.stamps.get(arm, {}).get("kernel", "") for arm in ARMS},
                "hardware": {arm: self.stamps.get(arm, {}).get("hardware", "") for arm in ARMS},
                "rows": [r.as_dict() for r in self.rows],
                "method": "arms timed one after the other, order alternating by round, after discarded warm-up "
                          "requests, every answer forced to the same length; Bonferroni over every interval"}


async def run_stage(backends: dict[str, BackendSettings], items: list[SuiteItem], policy: PerformancePolicy,
                    significance: float, seed: int = 0) -> PerformanceResult:
    """Time both arms, read their memory, and judge every ratio at a family-wise `significance`."""
    timings = await measure(backends, items, policy)
    memory = await both_arms(backends, timeout_s=10)
    hourly = {arm: backends[arm].hourly_cost_usd for arm in ARMS}
    with_cost = all(hourly[arm] is not None for arm in ARMS)
    family = len(policy.concurrency) * (PER_CONCURRENCY + int(with_cost))
    level = 1 - significance / family
    rows: list[PerformanceRow] = []
    for concurrency, arms in timings.items():
        ratios = concurrency_ratios(arms, level, seed + concurrency)
        for metric, (ratio, kind) in ratios.items():
            rows.append(row(metric, concurrency, ratio, kind, policy))
        cost = cost_ratio(ratios["aggregate_tokens_per_s"][0], hourly)
        if cost is not None:
            rows.append(row("cost_per_million_tokens", concurrency, cost, "cost", policy))
    weights = {arm: backends[arm].stamp.weights_bytes for arm in ARMS}
    for metric, readings, kind in (("memory_bytes", memory["memory_bytes"], "memory"),
                                   ("kv_cache_tokens", memory["kv_cache_tokens"], "kv"),
                                   ("weights_bytes", weights, "reading")):
        if readings["baseline"] and readings["candidate"]:
            share = readings["candidate"] / readings["baseline"]
            rows.append(row(metric, None, Ratio(readings["baseline"], readings["candidate"], share, share, share),
                            kind, policy))
    stamps = {arm: backends[arm].stamp.as_labels() for arm in ARMS}
    return PerformanceResult(policy.model_dump(mode="json"), level, family, rows, stamps, policy.gates)
