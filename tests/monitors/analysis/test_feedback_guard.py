"""The guard acts on feedback when the policy says so: a thumbs-down rise in one category rolls the candidate back
with a reason naming it, the same rise with `guard: false` flips nothing, identical arms never roll back, and a
score's low scores are what is judged."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from flags.comparisons import ComparisonStore
from flags.feedback_store import FeedbackRow, FeedbackStore
from flags.store import FlagStore
from flags.updates import FlagUpdate
from monitors.analysis.guard import GUARD_ACTOR, GuardSettings, RampSettings, RolloutGuard
from monitors.analysis.policy import FeedbackSignal, MetricTolerances, RegressionPolicy

CATEGORIES = ["chat", "json"]
_TOKENS = itertools.count()


def _policy(guard: bool, kind: str = "event") -> RegressionPolicy:
    signal = (FeedbackSignal(max_increase_pp=1.0, guard=guard) if kind == "event" else
              FeedbackSignal(kind="score", min=1, max=5, low_at_most=2, max_increase_pp=1.0, guard=guard))
    return RegressionPolicy(name=f"feedback-guard-{guard}-{kind}", defaults=MetricTolerances(),
                            feedback={"verdict": signal})


@pytest.fixture
def stores(tmp_path: Path) -> tuple[FlagStore, ComparisonStore, FeedbackStore]:
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    flags = FlagStore(url)
    flags.ensure_schema()
    flags.apply(FlagUpdate(rollout_percent=50, reason="canary"), actor="ops")
    return flags, ComparisonStore(url), FeedbackStore(url)


def _traffic(feedback: FeedbackStore, seed: int, rise: dict[str, float], users: int = 3000,
             score: bool = False) -> None:
    """Sticky users half on each arm, a few answers each in chat and json, 5% of answers get the signal (plus
    `rise` on the candidate's in a category); the answers served and the signals written as the gateway does.
    Scores: a signalled answer gets a 1 or 2 (low), every other one a 4 or 5, so only the low ones are events."""
    rng = np.random.default_rng(seed)
    served: dict[tuple[str, str, float, int], int] = {}
    rows = []
    now = datetime.now(UTC)
    for user in range(users):
        variant, group = ("candidate" if rng.random() < 0.5 else "baseline"), user % 32
        for _ in range(int(rng.integers(1, 6))):
            category = CATEGORIES[int(rng.integers(0, 2))]
            cell = (variant, category, 50.0, group)
            served[cell] = served.get(cell, 0) + 1
            low = rng.random() < 0.05 + (rise.get(category, 0.0) if variant == "candidate" else 0.0)
            if not low and not score:
                continue
            value = (float(rng.integers(1, 3)) if low else float(rng.integers(4, 6))) if score else None
            rows.append(FeedbackRow(received_at=now, issued_at=now, variant=variant, category=category,
                                    candidate_share=50.0, key_group=group, signal="verdict", value=value,
                                    token_sha256=hashlib.sha256(str(next(_TOKENS)).encode()).hexdigest()))
    feedback.add_served(now.replace(minute=0, second=0, microsecond=0), served)
    feedback.insert_new(rows)


def _guard(stores: tuple[FlagStore, ComparisonStore, FeedbackStore], policy: RegressionPolicy,
           ramp: bool = False) -> RolloutGuard:
    flags, comparisons, feedback = stores
    settings = GuardSettings(enabled=True, threshold=1, ramp=RampSettings(enabled=ramp, step=10, max=100))
    return RolloutGuard(settings, policy, flags, comparisons, categories=CATEGORIES, feedback=feedback)


def test_a_guarded_signal_rising_in_one_category_rolls_the_candidate_back(
        stores: tuple[FlagStore, ComparisonStore, FeedbackStore]) -> None:
    _traffic(stores[2], 1, {"json": 0.08})
    decision = _guard(stores, _policy(guard=True)).check_once()
    assert decision.action == "rollback" and decision.failed == ["json/feedback:verdict"]
    assert stores[0].snapshot().rollback is True
    entry = stores[0].audit(limit=1)[0]
    assert entry.actor == GUARD_ACTOR and "feedback:verdict regression in json" in entry.reason
    assert "anytime-valid lower bound" in entry.reason and "design effect" in entry.reason


def test_the_same_rise_flips_nothing_when_the_policy_does_not_guard_the_signal(
        stores: tuple[FlagStore, ComparisonStore, FeedbackStore]) -> None:
    _traffic(stores[2], 1, {"json": 0.08})
    guard = _guard(stores, _policy(guard=False))
    assert guard.check_once().action == "none" and stores[0].snapshot().rollback is False
    # Not in the family either: a signal the guard never acts on spends none of its alpha.
    assert guard.family() == _guard(stores, RegressionPolicy(name="none", defaults=MetricTolerances())).family()


def test_identical_arms_never_roll_back(tmp_path: Path) -> None:
    rollbacks = 0
    for seed in range(8):
        url = f"sqlite:///{tmp_path / f'aa-{seed}.db'}"
        flags = FlagStore(url)
        flags.ensure_schema()
        stores = (flags, ComparisonStore(url), FeedbackStore(url))
        _traffic(stores[2], 100 + seed, {}, users=1500)
        rollbacks += _guard(stores, _policy(guard=True)).check_once().action == "rollback"
    # Family-wise alpha 0.05 over the guard's tests per run: 8 runs expect 0.4 false rollbacks at most.
    assert rollbacks <= 1


def test_low_scores_are_the_judged_event_of_a_score_signal(
        stores: tuple[FlagStore, ComparisonStore, FeedbackStore]) -> None:
    _traffic(stores[2], 3, {"chat": 0.08}, score=True)
    decision = _guard(stores, _policy(guard=True, kind="score")).check_once()
    assert decision.action == "rollback" and decision.failed == ["chat/feedback:verdict"]


def test_the_ramp_waits_until_the_guarded_signal_is_shown_within_tolerance(
        stores: tuple[FlagStore, ComparisonStore, FeedbackStore]) -> None:
    # A few hundred answers: no regression shown, and not within 1 pp either.
    _traffic(stores[2], 4, {}, users=100)
    decision = _guard(stores, _policy(guard=True), ramp=True).check_once()
    assert decision.action == "hold" and "feedback:verdict" in decision.reason
