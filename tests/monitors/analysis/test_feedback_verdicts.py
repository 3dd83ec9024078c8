"""Feedback signals judged per category like any live rate: a +5 pp thumbs-down rise in one category is a
regression there and nowhere else, and identical arms stay within α over repeated runs."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry

from flags.bucketing import live_key_group
from monitors.analysis.live import read_live_counts, unpaired_verdicts
from monitors.analysis.policy import FeedbackSignal, MetricTolerances, RegressionPolicy
from monitors.analysis.verdicts import IMPROVEMENT, REGRESSION
from monitors.quality.detectors.answer import AnswerJudgement
from monitors.quality.metrics import QualityMetrics

POLICY = RegressionPolicy(name="feedback", defaults=MetricTolerances(),
                          feedback={"thumbs_down": FeedbackSignal(max_increase_pp=1.0)})
FINE = AnswerJudgement(False, None, True, False, None, 0.0, False, False, 10, 40)


def _traffic(seed: int, rise: dict[str, float], users: int = 3000) -> dict[str, str]:
    """Users routed to an arm each (sticky, half each), a few answers per user in json and chat, thumbs-down at 5%
    plus `rise` for the candidate's answers in a category. The live verdicts of thumbs-down per category."""
    rng = np.random.default_rng(seed)
    registry = CollectorRegistry()
    quality = QualityMetrics(registry)
    for user in range(users):
        key = f"user-{seed}-{user}"
        variant, group = ("candidate" if rng.random() < 0.5 else "baseline"), live_key_group(key)
        for _ in range(int(rng.integers(1, 6))):
            category = "json" if rng.random() < 0.5 else "chat"
            quality.observe_answer(variant, category, "primary", FINE, 50.0, group)
            rate = 0.05 + (rise.get(category, 0.0) if variant == "candidate" else 0.0)
            if rng.random() < rate:
                quality.observe_feedback(variant, category, 50.0, group, "thumbs_down")
    verdicts = unpaired_verdicts(read_live_counts(registry), POLICY, family=2)
    return {v.category: v.verdict for v in verdicts if v.metric == "feedback:thumbs_down"}


def test_a_thumbs_down_rise_in_one_category_is_a_regression_there_only() -> None:
    verdicts = _traffic(1, {"json": 0.05}, users=4000)
    assert verdicts == {"json": REGRESSION, "chat": verdicts["chat"]} and verdicts["chat"] != REGRESSION


def test_identical_arms_stay_within_alpha_over_repeated_runs() -> None:
    runs = 30
    false = sum(verdict in (REGRESSION, IMPROVEMENT) for seed in range(runs) for verdict in _traffic(100 + seed, {})
                .values())
    # Two categories per run, family-wise α = 0.05: at most about 1.5 false verdicts expected over 30 runs.
    assert false <= 4
