"""The guard: always-valid test, rollback with a reason on a real regression, none on A/A, Flagger ramp."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.pairs import PairSource, injected
from flags.store import FlagStore
from flags.updates import FlagUpdate
from monitors.guard import GUARD_ACTOR, GuardSettings, RampSettings, RolloutGuard
from monitors.policy import (
    DEFAULT_POLICY,
    MetricTolerances,
    RateTolerance,
    RatioTolerance,
    RegressionPolicy,
    SimilarityTolerance,
)
from monitors.sequential import BettingTest
from shadow.records import ComparisonStore
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row


def test_betting_test_holds_its_level_when_looking_after_every_pair() -> None:
    rng = random.Random(7)
    false_alarms = 0
    for _ in range(200):
        test = BettingTest(m=0.0, alpha=0.05)
        for _ in range(500):
            test.update(float(rng.random() < 0.1) - float(rng.random() < 0.1))
        false_alarms += test.rejected
    assert false_alarms / 200 <= 0.05
    detected = BettingTest(m=0.0, alpha=0.05)
    for _ in range(2000):
        detected.update(float(rng.random() < 0.2) - float(rng.random() < 0.05))
    assert detected.rejected


@pytest.fixture
def stores(tmp_path: Path) -> tuple[FlagStore, ComparisonStore]:
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    flags = FlagStore(url)
    flags.ensure_schema()
    return flags, ComparisonStore(url)


def _insert(comparisons: ComparisonStore, source: PairSource, n: int) -> None:
    comparisons.insert_many([comparison_row(source.comparison(), "h", ({}, {}), "", ComparisonStoreSettings(),
                                            default_redactor) for _ in range(n)])


def test_guard_rolls_back_on_injected_regression(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    flags.apply(FlagUpdate(rollout_percent=20, reason="canary"), actor="ops")
    guard = RolloutGuard(GuardSettings(enabled=True, threshold=2), DEFAULT_POLICY, flags, comparisons)
    source = PairSource(injected("benign-sensitive", 20.0), seed=1)
    actions = []
    for _ in range(20):
        _insert(comparisons, source, 400)
        actions.append(guard.check_once().action)
        if actions[-1] == "rollback":
            break
    assert actions[-1] == "rollback" and actions.count("none") >= 1  # threshold: not on the first failed check
    assert flags.snapshot().rollback is True
    entry = flags.audit(limit=1)[0]
    assert entry.actor == GUARD_ACTOR and "refusal_rate regression in benign-sensitive" in entry.reason
    assert "pp" in entry.reason and "anytime-valid lower bound" in entry.reason
    assert guard.check_once().action == "halted"


LOOSE = RegressionPolicy(name="loose", min_paired_samples=50, defaults=MetricTolerances(
    refusal_rate=RateTolerance(max_increase_pp=10), format_break_rate=RateTolerance(max_increase_pp=10),
    repetition_rate=RateTolerance(max_increase_pp=10), length_ratio=RatioTolerance(min=0.5, max=2.0),
    similarity=SimilarityTolerance(min_median=0.3)))
CATEGORIES = ["chat", "code", "json", "math", "multilingual", "benign-sensitive", "long"]


def test_guard_leaves_aa_alone_and_ramps_once_within_tolerance_is_shown(
        stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    flags.apply(FlagUpdate(rollout_percent=5, reason="canary"), actor="ops")
    settings = GuardSettings(enabled=True, threshold=1, ramp=RampSettings(enabled=True, step=20, max=50))
    guard = RolloutGuard(settings, LOOSE, flags, comparisons, categories=CATEGORIES)
    source = PairSource({}, seed=2)
    seen = []
    for _ in range(10):
        _insert(comparisons, source, 300)
        decision = guard.check_once()
        seen.append((decision.action, decision.rollout_percent))
    steps = [pct for action, pct in seen if action in ("step", "promoted")]
    # Held until every guarded metric with enough pairs is shown within tolerance, then 5 -> 25 -> 45 -> 50
    # (max is not a multiple of step, and is still reached), then promoted.
    assert seen[0][0] == "hold" and steps[:4] == [25, 45, 50, 50] and seen[-1] == ("promoted", 50)
    assert flags.snapshot().rollback is False


def test_no_evidence_of_a_regression_does_not_ramp(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    flags.apply(FlagUpdate(rollout_percent=5, reason="canary"), actor="ops")
    settings = GuardSettings(enabled=True, threshold=1, ramp=RampSettings(enabled=True, step=20, max=50))
    guard = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    _insert(comparisons, PairSource({}, seed=3), 1500)
    decision = guard.check_once()
    # Identical arms, but 1,500 pairs cannot show a 1 pp tolerance held in every category: hold, say why.
    assert decision.action == "hold" and "refusal_rate" in decision.reason
    assert flags.snapshot().rollout_percent == 5


def test_guard_family_covers_every_test_it_can_run(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    allow = RolloutGuard(GuardSettings(enabled=True), DEFAULT_POLICY, flags, comparisons, categories=["json", "chat"])
    assert allow.family() == 3 * 6  # json, chat, other x six guarded tests
    open_ended = RolloutGuard(GuardSettings(enabled=True), DEFAULT_POLICY, flags, comparisons, max_categories=4)
    assert open_ended.family() == 5 * 6
    # Past the gateway's bound a new name is judged as `other`, like the label it gets.
    assert [open_ended._category(n) for n in "abcdef"] == ["a", "b", "c", "d", "other", "other"]  # noqa: SLF001


def test_empty_candidate_answers_trip_the_length_ratio_guard(stores: tuple[FlagStore, ComparisonStore]) -> None:
    from monitors.guard import _observation
    from monitors.policy import RatioTolerance
    from monitors.samples import PairSample

    tol = RatioTolerance(min=0.8, max=1.25)
    empty = PairSample("chat", {}, {}, 0.0, 0.0, None, None)
    assert _observation(empty, "length_ratio_below", tol) == 1.0
    assert _observation(empty, "length_ratio_above", tol) == -1.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_anytime_lower_bound_is_where_the_betting_test_stops_rejecting(seed: int) -> None:
    from monitors.sequential import anytime_lower_bound

    rng = random.Random(seed)
    values = [1.0 if rng.random() < 0.06 else (-1.0 if rng.random() < 0.02 else 0.0) for _ in range(2000)]
    bound = anytime_lower_bound(values, 0.001)

    def rejects(m: float) -> bool:
        test = BettingTest(m=m, alpha=0.001)
        for value in values:
            test.update(value)
        return test.rejected

    assert rejects(bound - 0.001) and not rejects(bound + 0.001)
