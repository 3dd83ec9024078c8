"""The payoff half of the policy: the production batch profile the performance stage measures, and the targets
the candidate is judged against (ratios to the baseline, committed in advance like the tolerances)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Per-stream and aggregate speed: higher is better. Latencies, memory and cost: lower is better.
HIGHER_IS_BETTER = ("stream_tokens_per_s", "aggregate_tokens_per_s", "requests_per_s", "kv_cache_tokens")
LOWER_IS_BETTER = ("ttft_p50", "ttft_p95", "itl_p50", "itl_p95", "total_p50", "total_p95", "memory_bytes",
                   "weights_bytes", "cost_per_million_tokens")
PerformanceMetric = Literal["stream_tokens_per_s", "aggregate_tokens_per_s", "requests_per_s", "kv_cache_tokens",
                            "ttft_p50",
                            "ttft_p95", "itl_p50", "itl_p95", "total_p50", "total_p95", "memory_bytes",
                            "weights_bytes", "cost_per_million_tokens"]
# Measured once per arm, not per concurrency.
PER_ARM = ("memory_bytes", "weights_bytes", "kv_cache_tokens")


class PerformanceTarget(BaseModel):
    """One committed target: "aggregate tokens/s at concurrency 8 at least 1.3x the baseline", "TTFT p95 at most
    1.2x", "memory at most 0.7x" (30% less)."""

    model_config = ConfigDict(extra="forbid")
    metric: PerformanceMetric
    # None: at every concurrency of the profile (and for memory, which has none).
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    min_ratio: float | None = Field(default=None, gt=0)
    max_ratio: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _direction(self) -> PerformanceTarget:
        if self.metric in HIGHER_IS_BETTER and (self.min_ratio is None or self.max_ratio is not None):
            raise ValueError(f"{self.metric} is better when higher: give `min_ratio` (candidate / baseline)")
        if self.metric in LOWER_IS_BETTER and (self.max_ratio is None or self.min_ratio is not None):
            raise ValueError(f"{self.metric} is better when lower: give `max_ratio` (candidate / baseline)")
        if self.metric in PER_ARM and self.concurrency is not None:
            raise ValueError(f"{self.metric} is measured per server, not per concurrency")
        return self

    def applies(self, metric: str, concurrency: int | None) -> bool:
        """Whether this target judges the metric at that concurrency."""
        return self.metric == metric and (self.concurrency is None or self.concurrency == concurrency)


class EarlyWarningPolicy(BaseModel):
    """The token-level early warning (`evals.early_warning`): how many top tokens to compare, and whether a
    category whose mean KL divergence is shown above a ceiling fails the validation (default: it only warns)."""

    model_config = ConfigDict(extra="forbid")
    top_k: int = Field(default=20, ge=1, le=20)
    # Mean KL (nats per token, top-k approximation) a category may reach; None: never judged.
    max_kl_mean: float | None = Field(default=None, gt=0)
    gates: bool = False

    @model_validator(mode="after")
    def _ceiling(self) -> EarlyWarningPolicy:
        if self.gates and self.max_kl_mean is None:
            raise ValueError("`gates: true` needs a `max_kl_mean` to judge against")
        return self

    def exceeded(self, categories: list[dict[str, object]]) -> list[str]:
        """Categories whose mean KL interval lies wholly above the ceiling."""
        if self.max_kl_mean is None:
            return []
        return [str(c["category"]) for c in categories
                if float(c["kl_mean"]["low"]) > self.max_kl_mean]  # type: ignore[index]


class PerformancePolicy(BaseModel):
    """How the payoff half is measured (the production batch profile) and judged."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    # Requests in flight per arm: the production batch profile (each level measured separately).
    concurrency: list[Annotated[int, Field(ge=1, le=1024)]] = Field(default_factory=lambda: [1, 4], min_length=1,
                                                                    max_length=8)
    # Requests per arm, per concurrency, per round; arms alternate every round (ABBA...).
    requests: int = Field(default=8, ge=2, le=10_000)
    rounds: int = Field(default=4, ge=2, le=100)
    # Requests per arm per concurrency sent first and discarded (caches, lazy initialisation, JIT).
    warmup: int = Field(default=2, ge=0, le=1000)
    # Every answer forced to this many tokens (min_tokens = max_tokens): speed is compared on equal work.
    output_tokens: int = Field(default=64, ge=2, le=8192)
    targets: list[PerformanceTarget] = Field(default_factory=list, max_length=64)
    # Whether a target not met fails the validation (default: the payoff half warns, the quality half gates).
    gates: bool = False

    @model_validator(mode="after")
    def _levels(self) -> PerformancePolicy:
        if len(set(self.concurrency)) != len(self.concurrency):
            raise ValueError("each concurrency once")
        for target in self.targets:
            if target.concurrency is not None and target.concurrency not in self.concurrency:
                raise ValueError(f"target at concurrency {target.concurrency}, which the profile does not measure "
                                 f"({self.concurrency})")
        return self

    def target(self, metric: str, concurrency: int | None) -> PerformanceTarget | None:
        """The target judging a metric at a concurrency, if the policy commits to one."""
        return next((t for t in self.targets if t.applies(metric, concurrency)), None)
