"""How many tests share α in one analysis: fixed in advance by what the operator declared, never by the data.

Bonferroni's bound holds for a family chosen before the data are seen. Counting only the tests that have enough
pairs at the moment of a look makes m small early (α/5) and large later (α/37), and over a run that reads the
verdicts again and again the family-wise error is no longer α. So m is every (category, metric) test the analysis
could ever report: the declared categories (the gateway's allow-list, else the policy's categories) and the two
labels every gateway has (`default`, `other`), times the metrics with a tolerance that this kind of analysis
measures. A category outside that set (no allow-list, a client's own name) still gets its tests, added to m, and
the report says the family was not fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from monitors.analysis.metric_definitions import METRICS, MetricDefinition
from monitors.analysis.policy import RegressionPolicy

# Every gateway labels requests without a category `default` and unknown ones `other` (gateway.routing).
ALWAYS_LABELLED = ("default", "other")


@dataclass(frozen=True, slots=True)
class HypothesisFamily:
    """The categories whose tests share α, and how many tests each analysis kind runs for them."""

    categories: tuple[str, ...]
    declared: bool

    @classmethod
    def declared_by(cls, policy: RegressionPolicy, allow_list: Sequence[str]) -> HypothesisFamily:
        """The family of a deployment: its allow-list, else its policy's categories (plus default and other)."""
        named = set(allow_list) or set(policy.categories)
        return cls(tuple(sorted(named | set(ALWAYS_LABELLED))), bool(named))

    def size(self, policy: RegressionPolicy, measurable: Callable[[MetricDefinition], bool],
             seen: Iterable[str] = ()) -> int:
        """Tests of the declared categories plus those of any category `seen` outside them."""
        categories = set(self.categories) | set(seen)
        tests = sum(1 for category in categories for metric in METRICS
                    if measurable(metric) and policy.tolerance(category, metric.name) is not None)
        if measurable is live_metric:
            # Feedback events are live rates too, one test per judged signal.
            tests += sum(1 for category in categories for signal in policy.feedback.values()
                         if signal.tolerance(category) is not None)
        return tests

    def fixed_for(self, seen: Iterable[str]) -> bool:
        """Whether every category with data was declared (the family did not grow with it)."""
        return self.declared and set(seen) <= set(self.categories)

    def basis(self, seen: Iterable[str]) -> str:
        """One sentence for the report: what m counts."""
        outside = sorted(set(seen) - set(self.categories))
        if not self.declared:
            return ("not fixed in advance: no categories declared (set the gateway's `categories` or list them in "
                    "the policy), so m grows with every category clients send")
        if outside:
            return (f"declared categories × judged metrics, grown by undeclared {', '.join(outside[:5])}"
                    f"{' …' if len(outside) > 5 else ''}: declare them to fix the family")
        return "fixed in advance: declared categories (with default and other) × judged metrics"


def stored_pair_metric(metric: MetricDefinition) -> bool:
    """What a window of stored shadow pairs measures (the admin verdicts, the guard)."""
    return metric.paired and (not metric.is_rate or metric.stored)


def live_metric(metric: MetricDefinition) -> bool:
    """What unpaired live traffic measures."""
    return metric.live
