"""The rollback guard: a Flagger-style analysis loop that rolls back on quality, and an optional ramp.

Every `interval_s` it reads the shadow pairs that arrived since the last check, feeds them to one
always-valid test per (category, metric), and counts a failed check when any test has established a
regression beyond the policy's tolerance. After `threshold` consecutive failed checks it flips the
rollback flag, with an audit reason naming the metric, category, effect and interval. While every
check passes it may raise `rollout_percent` by `step` up to `max` (min(current + step, max), so a max
that is not a multiple of step is still reached).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from pydantic import BaseModel, Field

from flags.model import utcnow
from flags.store import FlagStore
from flags.updates import FlagUpdate
from monitors.policy import RateTolerance, RatioTolerance, RegressionPolicy, SimilarityTolerance
from monitors.samples import PairSample, samples_from_rows
from monitors.sequential import BettingTest, anytime_lower_bound
from monitors.window_data import RATE_FIELDS
from shadow.records import ComparisonStore

log = logging.getLogger("quantgate.guard")
GUARD_ACTOR = "quantgate-guard"


class RampSettings(BaseModel):
    """Progressive rollout (Flagger's stepWeight / maxWeight)."""

    enabled: bool = False
    step: float = Field(default=10.0, gt=0, le=100)
    max: float = Field(default=50.0, gt=0, le=100)


class GuardSettings(BaseModel):
    """The guard is off unless enabled."""

    enabled: bool = False
    interval_s: float = Field(default=60.0, gt=0)
    threshold: int = Field(default=3, ge=1)
    # Pairs older than this when the guard starts are not considered.
    window_hours: float = Field(default=24.0, gt=0)
    # alpha is split evenly over this many tests (Bonferroni). Unset: the categories the gateway labels (its
    # allow-list, else the policy's named categories plus `other`) times the guarded metrics, so no test the
    # guard can ever run is left outside the family.
    family_size: int | None = Field(default=None, ge=1)
    ramp: RampSettings = Field(default_factory=RampSettings)


@dataclass
class GuardDecision:
    """What one check concluded and did."""

    failed: list[str]
    failed_checks: int
    action: str  # none | rollback | step | hold | promoted | halted
    rollout_percent: float
    reason: str = ""


# Guarded metrics: the length ratio is two sign tests, one per bound (median inside [min, max] needs both).
GUARDED = ("refusal_rate", "format_break_rate", "repetition_rate", "length_ratio_below", "length_ratio_above",
           "similarity")


def _observation(sample: PairSample, metric: str, tol: object) -> float | None:
    """Map one pair to x in [-1, 1] whose mean exceeds the test's m exactly when the policy is violated."""
    if metric in RATE_FIELDS:
        if metric == "format_break_rate" and not (sample.baseline.get("format_checked")
                                                  and sample.candidate.get("format_checked")):
            return None
        key = RATE_FIELDS[metric]
        return float(bool(sample.candidate.get(key))) - float(bool(sample.baseline.get(key)))
    if isinstance(tol, RatioTolerance):
        if sample.length_ratio is None:
            return None
        # An empty candidate answer has ratio 0: below the minimum, never dropped.
        beyond = sample.length_ratio < tol.min if metric == "length_ratio_below" else sample.length_ratio > tol.max
        return 1.0 if beyond else -1.0
    if isinstance(tol, SimilarityTolerance):
        return 1.0 if sample.similarity < tol.min_median else -1.0
    return None


@dataclass
class RolloutGuard:
    """State of the analysis loop; `check_once` is one iteration."""

    settings: GuardSettings
    policy: RegressionPolicy
    flags: FlagStore
    comparisons: ComparisonStore
    failed_checks: int = 0
    last_row_id: int = 0
    tests: dict[tuple[str, str], BettingTest] = field(default_factory=dict)
    # The mirror-image tests: rejecting "violates the tolerance" shows the candidate within it (gates the ramp).
    within: dict[tuple[str, str], BettingTest] = field(default_factory=dict)
    # Category names the gateway can label: its allow-list; without one, the policy's categories and at most
    # `max_categories` further names (the gateway's own bound), everything else being `other`.
    categories: list[str] = field(default_factory=list)
    max_categories: int = 64
    _seen: set[str] = field(default_factory=set)
    _started: bool = False

    def family(self) -> int:
        """How many tests share alpha: every (category, metric) test the guard can ever run."""
        if self.settings.family_size is not None:
            return self.settings.family_size
        if self.categories:
            labels = len(set(self.categories)) + 1
        else:
            labels = len(self.policy.categories) + self.max_categories + 1
        return labels * len(GUARDED)

    def _category(self, category: str) -> str:
        if self.categories:
            return category if category in self.categories else "other"
        if category in self.policy.categories or category in self._seen:
            return category
        if len(self._seen) < self.max_categories:
            self._seen.add(category)
            return category
        return "other"

    def _test(self, category: str, metric: str, tol: object) -> tuple[BettingTest, BettingTest]:
        key = (category, metric)
        if key not in self.tests:
            # Rates: null "difference <= tolerance"; medians: null "at most half the pairs violate".
            m = tol.max_increase_pp / 100 if isinstance(tol, RateTolerance) else 0.0  # type: ignore[attr-defined]
            # Bonferroni over the family of tests, so the guard's family-wise error stays at alpha.
            alpha = self.policy.significance / self.family()
            self.tests[key] = BettingTest(m=m, alpha=alpha)
            # Fed -x: its null "mean(-x) <= -m" is "the tolerance is violated"; rejecting it shows compliance.
            self.within[key] = BettingTest(m=-m, alpha=alpha)
        return self.tests[key], self.within[key]

    def _unproven(self) -> list[str]:
        """Tests with enough pairs that have not yet shown the candidate within tolerance."""
        return [f"{c}/{m}" for (c, m), test in sorted(self.within.items())
                if test.n >= self.policy.min_samples(c) and not test.rejected]

    def _feed(self, samples: list[PairSample]) -> None:
        for sample in samples:
            category = self._category(sample.category)
            for metric in GUARDED:
                tol = self.policy.tolerance(sample.category, metric.removesuffix("_below").removesuffix("_above"))
                if tol is None:
                    continue
                x = _observation(sample, metric, tol)
                if x is not None:
                    beyond, within = self._test(category, metric, tol)
                    beyond.update(x)
                    within.update(-x)

    def _describe(self, category: str, metric: str, test: BettingTest) -> str:
        # The bound of the same anytime-valid test that fired: valid however often the guard looked.
        bound = anytime_lower_bound(test.values, test.alpha)
        if metric in RATE_FIELDS:
            return (f"{metric} regression in {category}: {test.mean * 100:+.2f} pp, anytime-valid lower bound "
                    f"{bound * 100:+.2f} pp > tolerance {test.m * 100:+.2f} pp (alpha {test.alpha:.2g}, n={test.n})")
        share = float(np.mean(np.array(test.values) > 0))
        return (f"{metric} regression in {category}: {share:.0%} of {test.n} pairs beyond the bound, anytime-valid "
                f"lower bound of the share {(bound + 1) / 2:.0%} > 50% (alpha {test.alpha:.2g})")

    def _read_new(self) -> list[PairSample]:
        since = None if self._started else utcnow() - timedelta(hours=self.settings.window_hours)
        self._started = True
        rows = self.comparisons.rows_after(self.last_row_id, since)
        if rows:
            self.last_row_id = rows[-1].id or self.last_row_id
        return samples_from_rows(rows)

    def check_once(self) -> GuardDecision:
        """One analysis: feed new pairs, count failures, roll back or ramp."""
        flags = self.flags.snapshot()
        if flags.rollback:
            return GuardDecision([], self.failed_checks, "halted", flags.rollout_percent, "rollback is active")
        self._feed(self._read_new())
        failed = [f"{c}/{m}" for (c, m), t in sorted(self.tests.items()) if t.rejected]
        self.failed_checks = self.failed_checks + 1 if failed else 0
        if failed and self.failed_checks >= self.settings.threshold:
            category, metric = next(key for key, t in sorted(self.tests.items()) if t.rejected)
            reason = (f"guard: {self._describe(category, metric, self.tests[(category, metric)])}; "
                      f"{self.failed_checks} consecutive failed checks; policy {self.policy.stamp()}")
            self.flags.apply(FlagUpdate(rollback=True, reason=reason), actor=GUARD_ACTOR)
            log.warning(reason)
            return GuardDecision(failed, self.failed_checks, "rollback", flags.rollout_percent, reason)
        ramp = self.settings.ramp
        if failed or not ramp.enabled:
            return GuardDecision(failed, self.failed_checks, "none", flags.rollout_percent)
        if flags.rollout_percent >= ramp.max:
            return GuardDecision(failed, 0, "promoted", flags.rollout_percent, f"rollout at max {ramp.max}%")
        unproven = self._unproven()
        if unproven or not any(t.n >= self.policy.min_samples(c) for (c, _), t in self.within.items()):
            # No regression is not the same as within tolerance: the ramp waits for the evidence.
            waiting = ", ".join(unproven) or "no category has enough pairs"
            return GuardDecision(failed, 0, "hold", flags.rollout_percent, f"not yet shown within tolerance: {waiting}")
        target = min(flags.rollout_percent + ramp.step, ramp.max)
        reason = (f"guard: every guarded metric with enough pairs shown within tolerance (anytime-valid), ramp "
                  f"{flags.rollout_percent:g}% -> {target:g}% (policy {self.policy.stamp()})")
        self.flags.apply(FlagUpdate(rollout_percent=target, reason=reason), actor=GUARD_ACTOR)
        return GuardDecision(failed, 0, "step", target, reason)

    async def run(self) -> None:
        """Loop forever (cancel to stop); store errors are logged and retried next interval."""
        while True:
            try:
                decision = await asyncio.to_thread(self.check_once)
                log.info("guard check: %s", decision)
            except Exception:  # noqa: BLE001 - the guard must outlive a flaky database
                log.exception("guard check failed")
            await asyncio.sleep(self.settings.interval_s)
