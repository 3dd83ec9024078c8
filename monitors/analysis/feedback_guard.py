"""The guard's feedback tests: signals the policy marks `guard: true`, judged from the store as the live verdicts
judge them from the metrics.

The store holds each signal with its answer's arm, category, routing stratum and key group, and each worker adds
the answers it gave tokens to (`flags.feedback_store.ServedRow`), so the guard (its own process, or pod) reads the
rate of every signal per answer served, per stratum, from the window's start. The test is the live one
(`monitors.analysis.live`): Mantel-Haenszel estimate, anytime-valid interval from betting on inverse-propensity
differences, counts divided by the Rao-Scott design effect of the key groups. Recomputed from the stored counts
at every check, it is one sequence read repeatedly, which is what an anytime-valid interval allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flags.feedback_store import FeedbackCells
from monitors.analysis.live import LiveCounts, feedback_estimate
from monitors.analysis.policy import RegressionPolicy
from monitors.analysis.stats import Estimate
from monitors.strata_labels import FEEDBACK_OUTCOME

JUDGED = "judged"


@dataclass(frozen=True)
class FeedbackFinding:
    """One guarded signal in one category, read at the guard's alpha."""

    category: str
    signal: str
    n: int
    estimate: Estimate
    tolerance_pp: float
    design_effect: float

    @property
    def test(self) -> str:
        """The test's name, as the guard's failures list it."""
        return f"{FEEDBACK_OUTCOME}{self.signal}"

    @property
    def regression(self) -> bool:
        """The lower bound lies beyond the tolerance."""
        return self.estimate.low > self.tolerance_pp / 100

    @property
    def within(self) -> bool:
        """The upper bound lies inside the tolerance (shown within it)."""
        return self.estimate.high < self.tolerance_pp / 100

    def describe(self, alpha: float) -> str:
        """The audit reason's words."""
        return (f"{self.test} regression in {self.category}: {self.estimate.effect * 100:+.2f} pp, anytime-valid "
                f"lower bound {self.estimate.low * 100:+.2f} pp > tolerance {self.tolerance_pp:+.2f} pp (alpha "
                f"{alpha:.2g}, n={self.n}, design effect {self.design_effect:.2f}; answers served and signals from "
                "the feedback store)")


def guarded_signals(policy: RegressionPolicy) -> dict[str, float | None]:
    """The signals the guard acts on, each with the score at or below which it counts (None: an event)."""
    return {name: signal.low_at_most for name, signal in sorted(policy.feedback.items()) if signal.guard}


def _add(counts: dict[str, float], outcome: str, n: float) -> None:
    counts[outcome] = counts.get(outcome, 0.0) + n


def counts_from_cells(cells: FeedbackCells, label: Callable[[str], str]) -> LiveCounts:
    """The stored counts as live counts (categories through the guard's `label`), each cell's signals capped at its
    answers: a signal can arrive before its answer's count is written, and a rate above 1 is no rate."""
    live = LiveCounts()
    for (variant, category, share, group), answers in cells.served.items():
        name, stratum = label(category), f"{round(share, 2):g}"
        _add(live.counts[(variant, name, stratum)], JUDGED, answers)
        _add(live.groups[(variant, name)].setdefault(group, {}), JUDGED, answers)
        for signal, counted in cells.signals.items():
            events = min(counted.get((variant, category, share, group), 0), answers)
            _add(live.counts[(variant, name, stratum)], f"{FEEDBACK_OUTCOME}{signal}", events)
            _add(live.groups[(variant, name)][group], f"{FEEDBACK_OUTCOME}{signal}", events)
    return live


def feedback_findings(live: LiveCounts, policy: RegressionPolicy, alpha: float) -> list[FeedbackFinding]:
    """Every guarded (category, signal) test with answers in both arms, its interval one-sided at `alpha` each way."""
    findings = []
    categories = sorted({category for (_, category, _) in live.counts})
    for category in categories:
        for signal in guarded_signals(policy):
            tol = policy.feedback[signal].tolerance(category)
            if tol is None:
                continue
            n, estimate, design = feedback_estimate(live, category, signal, tol)
            if n:
                findings.append(FeedbackFinding(category, signal, n, estimate(2 * alpha), tol.max_increase_pp,
                                                design))
    return findings
