"""The rollback guard: a Flagger-style analysis loop that rolls back on quality, and an optional ramp.

Every `interval_s` it reads the shadow pairs that arrived since the last check and adds them to one count
per (category, metric) test. Each test's anytime-valid confidence sequence (`monitors.analysis.confidence_sequences`,
the same one the report shows) is read at α / family: a check fails when any lower bound is beyond the
policy's tolerance, and after `threshold` consecutive failed checks the guard flips the rollback flag with
an audit reason quoting that bound. The ramp raises `rollout_percent` by `step` up to `max` only when every
test with enough pairs has its upper bound inside the tolerance. The counts persist in the flag store, so
a restart continues the same sequences (no fresh alpha), and clearing a rollback starts them over. Feedback
signals the policy marks `guard: true` join the tests (`monitors.analysis.feedback_guard`), read from the store
over the same window at the same alpha.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from flags.comparisons import ComparisonStore, key_group
from flags.feedback_store import FeedbackStore
from flags.gate import GateContext, RolloutGated
from flags.model import GuardStateRow, utcnow
from flags.store import FlagStore
from flags.updates import FlagUpdate
from monitors.analysis import confidence_sequences as cs
from monitors.analysis.clustering import GroupedCounts, design_effect
from monitors.analysis.feedback_guard import FeedbackFinding, counts_from_cells, feedback_findings, guarded_signals
from monitors.analysis.guard_settings import GuardSettings, RampSettings
from monitors.analysis.metric_definitions import GUARD_TESTS, definition
from monitors.analysis.policy import RateTolerance, RatioTolerance, RegressionPolicy, SimilarityTolerance
from monitors.analysis.samples import PairSample, samples_from_rows

__all__ = ["GuardSettings", "RampSettings"]  # handed on: callers configure the guard where they build it

log = logging.getLogger("quantgate.guard")
GUARD_ACTOR = "quantgate-guard"


@dataclass
class GuardDecision:
    """What one check concluded and did."""

    failed: list[str]
    failed_checks: int
    action: str  # none | rollback | step | hold | promoted | halted
    rollout_percent: float
    reason: str = ""


# Guarded tests: every metric stored with each pair (the length ratio is two sign tests, one per bound: a median
# inside [min, max] needs both).
GUARDED = tuple(GUARD_TESTS)


def _observation(sample: PairSample, test: str, tol: object) -> float | None:
    """Map one pair to x in [-1, 1] whose mean exceeds the test's m exactly when the policy is violated."""
    metric = definition(test)
    if metric.flag == "failed":
        return float(sample.failed_arm == "candidate") - float(sample.failed_arm == "baseline")
    if sample.failed_arm is not None:
        return None  # a shadow that gave no answer has nothing to judge but its failure
    if metric.is_rate:
        checked = metric.checked_by
        if checked and not (sample.baseline.get(checked) and sample.candidate.get(checked)):
            return None
        key = str(metric.flag)
        return float(bool(sample.candidate.get(key))) - float(bool(sample.baseline.get(key)))
    if isinstance(tol, RatioTolerance):
        if sample.length_ratio is None:
            return None
        # An empty candidate answer has ratio 0: below the minimum, never dropped.
        beyond = sample.length_ratio < tol.min if test.endswith("_below") else sample.length_ratio > tol.max
        return 1.0 if beyond else -1.0
    if isinstance(tol, SimilarityTolerance):
        return 1.0 if sample.similarity < tol.min_median else -1.0
    return None


@dataclass
class GuardEvidence:
    """What the guard has seen: counts per test (observation value -> pairs), and where it is in the stream."""

    policy: str
    counts: dict[tuple[str, str], dict[float, int]] = field(default_factory=dict)
    last_row_id: int = 0
    failed_checks: int = 0
    seen: list[str] = field(default_factory=list)
    # Pairs written before this are never read: the window's start at the first check, or the operator's reset.
    since: datetime | None = None
    reset_at: datetime | None = None
    # How many tests share α in this analysis (0: stored before the family was recorded).
    family: int = 0
    # Per test and routing-key group: [observations above 0, below 0, all] (the design effect's input).
    groups: dict[tuple[str, str], dict[int, list[int]]] = field(default_factory=dict)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps({"policy": self.policy, "family": self.family, "last_row_id": self.last_row_id,
                           "failed_checks": self.failed_checks, "seen": self.seen,
                           "since": self.since.isoformat() if self.since else None,
                           "counts": [[c, m, {str(v): n for v, n in values.items()}]
                                      for (c, m), values in sorted(self.counts.items())],
                           "groups": [[c, m, {str(g): cells for g, cells in groups.items()}]
                                      for (c, m), groups in sorted(self.groups.items())]})

    @classmethod
    def from_json(cls, text: str, reset_at: datetime | None) -> GuardEvidence:
        """Read the stored form back."""
        data = json.loads(text)
        counts = {(c, m): {float(v): int(n) for v, n in values.items()} for c, m, values in data["counts"]}
        since = datetime.fromisoformat(data["since"]) if data.get("since") else None
        groups = {(c, m): {int(g): [int(x) for x in cells] for g, cells in values.items()}
                  for c, m, values in data.get("groups", [])}
        return cls(data["policy"], counts, int(data["last_row_id"]), int(data["failed_checks"]), list(data["seen"]),
                   since, reset_at, int(data.get("family", 0)), groups)

    def tally(self, key: tuple[str, str]) -> cs.Tally:
        """One test's counts as a tally."""
        values = sorted(self.counts.get(key, {}).items())
        return cs.Tally(tuple(v for v, _ in values), tuple(n for _, n in values))

    def design_effect(self, key: tuple[str, str]) -> float:
        """The test's Rao-Scott design effect over its routing-key groups (1 without groups)."""
        groups = self.groups.get(key)
        if not groups:
            return 1.0
        cells = np.array(list(groups.values()), dtype=float)
        return design_effect(GroupedCounts(cells[:, 0], cells[:, 1], cells[:, 2]))

    def judged_tally(self, key: tuple[str, str]) -> cs.Tally:
        """The tally the bounds are computed on: its counts divided by the design effect (one user's pairs are not
        independent, `monitors.analysis.clustering`)."""
        tally, design = self.tally(key), self.design_effect(key)
        return tally if design <= 1 else cs.Tally(tally.values, tuple(n / design for n in tally.counts))  # type: ignore[misc]

    def add(self, key: tuple[str, str], x: float, group: int) -> None:
        """Count one observation of a test, in its key group too."""
        cell = self.counts.setdefault(key, {})
        cell[x] = cell.get(x, 0) + 1
        cells = self.groups.setdefault(key, {}).setdefault(group, [0, 0, 0])
        cells[0] += x > 0
        cells[1] += x < 0
        cells[2] += 1


def margin(policy: RegressionPolicy, category: str, metric: str) -> float:
    """The mean a guarded test's observations may reach: the tolerated rise for rates, 0 for sign tests
    ("at most half the pairs beyond the bound")."""
    tol = policy.tolerance(category, definition(metric).name)
    return tol.max_increase_pp / 100 if isinstance(tol, RateTolerance) else 0.0


def beyond_tolerance(evidence: GuardEvidence, policy: RegressionPolicy, alpha: float) -> list[tuple[str, str]]:
    """Tests whose anytime-valid lower bound (one-sided at alpha) lies beyond the tolerance."""
    found = []
    for key in sorted(evidence.counts):
        tally, limit = evidence.judged_tally(key), margin(policy, *key)
        # The bound never exceeds the mean: skip the root search where it cannot clear the tolerance.
        if tally.mean > limit and cs.lower_bound(tally, alpha) > limit:
            found.append(key)
    return found


@dataclass
class RolloutGuard:
    """State of the analysis loop; `check_once` is one iteration."""

    settings: GuardSettings
    policy: RegressionPolicy
    flags: FlagStore
    comparisons: ComparisonStore
    # Category names the gateway can label: its allow-list; without one, the policy's categories and at most
    # `max_categories` further names (the gateway's own bound), everything else being `other`.
    categories: list[str] = field(default_factory=list)
    max_categories: int = 64
    evidence: GuardEvidence | None = None
    # The pre-ship gate's inputs, read before each ramp step (None: ramps are not gated, as in simulations).
    gate: Callable[[], GateContext] | None = None
    # Where the feedback signals and the answers served are (None: the guard judges shadow pairs only).
    feedback: FeedbackStore | None = None
    # This check's feedback tests, by (category, test name).
    _findings: dict[tuple[str, str], FeedbackFinding] = field(default_factory=dict, init=False, repr=False)

    def family(self) -> int:
        """How many tests share alpha: every (category, metric) test the guard can ever run, feedback signals
        the policy marks `guard: true` included."""
        if self.settings.family_size is not None:
            return self.settings.family_size
        if self.categories:
            labels = len(set(self.categories)) + 1
        else:
            labels = len(self.policy.categories) + self.max_categories + 1
        return labels * (len(GUARDED) + len(guarded_signals(self.policy)))

    def _alpha(self) -> float:
        # Bonferroni over the family, each bound one-sided: rollback and ramp both hold family-wise.
        return self.policy.significance / self.family()

    def _category(self, category: str) -> str:
        if self.categories:
            return category if category in self.categories else "other"
        seen = self._evidence().seen
        if category in self.policy.categories or category in seen:
            return category
        if len(seen) < self.max_categories:
            seen.append(category)
            return category
        return "other"

    def _margin(self, category: str, metric: str) -> float:
        return margin(self.policy, category, metric)

    def _evidence(self) -> GuardEvidence:
        if self.evidence is None:
            self.evidence = self._load(self.flags.guard_state())
        return self.evidence

    def _sync(self) -> None:
        """Pick up an operator's reset (a cleared rollback) before judging anything."""
        row = self.flags.guard_state()
        if self.evidence is None or (row is not None and row.reset_at != self.evidence.reset_at):
            self.evidence = self._load(row)

    def _load(self, row: GuardStateRow | None) -> GuardEvidence:
        if row is not None and row.state_json:
            stored = GuardEvidence.from_json(row.state_json, row.reset_at)
            if stored.policy == self.policy.stamp() and stored.family in (0, self.family()):
                stored.family = self.family()
                return stored
            # Another policy or another family (a changed allow-list) is another analysis: its α is not this one's.
            log.warning("guard: stored evidence is for policy %s over %d tests, now %s over %d: starting over",
                        stored.policy, stored.family, self.policy.stamp(), self.family())
        return GuardEvidence(self.policy.stamp(), reset_at=row.reset_at if row is not None else None,
                             family=self.family())

    def _feed(self, samples: list[PairSample]) -> None:
        evidence = self._evidence()
        for sample in samples:
            category = self._category(sample.category)
            group = key_group(sample.routing_key or "")
            for metric in GUARDED:
                tol = self.policy.tolerance(sample.category, definition(metric).name)
                x = None if tol is None else _observation(sample, metric, tol)
                if x is not None:
                    evidence.add((category, metric), x, group)

    def _read_feedback(self) -> None:
        """This check's feedback tests, from the window's start (the pairs' `since`)."""
        signals, since = guarded_signals(self.policy), self._evidence().since
        self._findings = {}
        if self.feedback is None or not signals or since is None:
            return
        live = counts_from_cells(self.feedback.cells(since, signals), self._category)
        for finding in feedback_findings(live, self.policy, self._alpha()):
            self._findings[(finding.category, finding.test)] = finding

    def _regressions(self) -> list[tuple[str, str]]:
        found = beyond_tolerance(self._evidence(), self.policy, self._alpha())
        return found + sorted(key for key, finding in self._findings.items() if finding.regression)

    def _unproven(self) -> list[str]:
        """Every test, whatever its size, whose upper bound is not yet inside the tolerance: a category with few
        pairs is not shown within tolerance, so more users must not see the candidate on its account."""
        evidence, alpha = self._evidence(), self._alpha()
        pairs = [f"{category}/{metric}" for category, metric in sorted(evidence.counts)
                 if not cs.upper_bound(evidence.judged_tally((category, metric)), alpha)
                 < self._margin(category, metric)]
        return pairs + [f"{c}/{t}" for (c, t), finding in sorted(self._findings.items()) if not finding.within]

    def _describe(self, category: str, metric: str) -> str:
        evidence, key, alpha = self._evidence(), (category, metric), self._alpha()
        if key in self._findings:
            return self._findings[key].describe(alpha)
        tally, design = evidence.tally(key), evidence.design_effect(key)
        bound = cs.lower_bound(evidence.judged_tally(key), alpha)
        if definition(metric).is_rate:
            return (f"{metric} regression in {category}: {tally.mean * 100:+.2f} pp, anytime-valid lower bound "
                    f"{bound * 100:+.2f} pp > tolerance {self._margin(category, metric) * 100:+.2f} pp "
                    f"(alpha {alpha:.2g}, n={tally.n}, design effect {design:.2f})")
        return (f"{metric} regression in {category}: {(tally.mean + 1) / 2:.0%} of {tally.n} pairs beyond the bound, "
                f"anytime-valid lower bound of the share {(bound + 1) / 2:.0%} > 50% (alpha {alpha:.2g}, design "
                f"effect {design:.2f})")

    def _read_new(self) -> list[PairSample]:
        evidence = self._evidence()
        if evidence.since is None:
            evidence.since = utcnow() - timedelta(hours=self.settings.window_hours)
            if evidence.reset_at is not None:
                evidence.since = max(evidence.since, evidence.reset_at)
        rows = self.comparisons.rows_after(evidence.last_row_id, evidence.since)
        if rows:
            evidence.last_row_id = rows[-1].id or evidence.last_row_id
        return samples_from_rows(rows)

    def _save(self) -> None:
        evidence = self._evidence()
        if not self.flags.save_guard_state(evidence.to_json(), evidence.reset_at):
            # An operator cleared a rollback since this evidence was loaded: theirs is the newer word.
            self.evidence = None

    def check_once(self) -> GuardDecision:
        """One analysis: feed new pairs, count failures, roll back or ramp; the evidence is saved each time."""
        flags = self.flags.snapshot()
        if flags.rollback:
            evidence = self._evidence()
            return GuardDecision([], evidence.failed_checks, "halted", flags.rollout_percent, "rollback is active")
        self._sync()
        self._feed(self._read_new())
        self._read_feedback()
        decision = self._decide(flags.rollout_percent, self._regressions())
        self._save()
        return decision

    def _decide(self, rollout_percent: float, regressions: list[tuple[str, str]]) -> GuardDecision:
        evidence = self._evidence()
        failed = [f"{c}/{m}" for c, m in regressions]
        evidence.failed_checks = evidence.failed_checks + 1 if failed else 0
        if failed and evidence.failed_checks >= self.settings.threshold:
            reason = (f"guard: {self._describe(*regressions[0])}; {evidence.failed_checks} consecutive failed "
                      f"checks; policy {self.policy.stamp()}")
            self.flags.apply(FlagUpdate(rollback=True, reason=reason), actor=GUARD_ACTOR)
            log.warning(reason)
            return GuardDecision(failed, evidence.failed_checks, "rollback", rollout_percent, reason)
        ramp = self.settings.ramp
        if failed or not ramp.enabled:
            return GuardDecision(failed, evidence.failed_checks, "none", rollout_percent)
        if rollout_percent >= ramp.max:
            return GuardDecision(failed, 0, "promoted", rollout_percent, f"rollout at max {ramp.max}%")
        unproven = self._unproven()
        if unproven or not any(evidence.tally(key).n >= self.policy.min_samples(key[0]) for key in evidence.counts):
            # No regression is not the same as within tolerance: the ramp waits for the evidence.
            waiting = ", ".join(unproven) or "no category has enough pairs"
            return GuardDecision(failed, 0, "hold", rollout_percent, f"not yet shown within tolerance: {waiting}")
        target = min(rollout_percent + ramp.step, ramp.max)
        reason = (f"guard: every guarded metric with enough pairs shown within tolerance (anytime-valid upper "
                  f"bounds at alpha {self._alpha():.2g}), ramp {rollout_percent:g}% -> {target:g}% "
                  f"(policy {self.policy.stamp()})")
        try:
            self.flags.apply(FlagUpdate(rollout_percent=target, reason=reason), actor=GUARD_ACTOR,
                             gate=self.gate() if self.gate is not None else None)
        except RolloutGated as refused:
            return GuardDecision(failed, 0, "hold", rollout_percent, f"pre-ship gate: {refused}")
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
