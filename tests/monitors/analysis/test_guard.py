"""The guard: rollback with an anytime-valid reason on a real regression, none on A/A, a ramp that waits for
evidence of compliance, and evidence that survives restarts and starts over when a rollback is cleared."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from bench.pairs import PairSource, injected
from flags.comparisons import ComparisonStore
from flags.store import FlagStore
from flags.updates import FlagUpdate
from monitors.analysis.guard import GUARD_ACTOR, GuardSettings, RampSettings, RolloutGuard
from monitors.analysis.policy import (
    DEFAULT_POLICY,
    MetricTolerances,
    RateTolerance,
    RatioTolerance,
    RegressionPolicy,
    SimilarityTolerance,
)
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row


@pytest.fixture
def stores(tmp_path: Path) -> tuple[FlagStore, ComparisonStore]:
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    flags = FlagStore(url)
    flags.ensure_schema()
    return flags, ComparisonStore(url)


_KEYS = itertools.count()


def _insert(comparisons: ComparisonStore, source: PairSource, n: int) -> None:
    # Each pair from its own user (per-request routing): independent pairs, no design effect to allow for.
    comparisons.insert_many([comparison_row(source.comparison(), f"user-{next(_KEYS)}", ({}, {}), "",
                                            ComparisonStoreSettings(), default_redactor) for _ in range(n)])


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
        _insert(comparisons, source, 600)
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
    assert allow.family() == 3 * 7  # json, chat, other x seven guarded tests
    open_ended = RolloutGuard(GuardSettings(enabled=True), DEFAULT_POLICY, flags, comparisons, max_categories=4)
    assert open_ended.family() == 5 * 7
    # Past the gateway's bound a new name is judged as `other`, like the label it gets.
    assert [open_ended._category(n) for n in "abcdef"] == ["a", "b", "c", "d", "other", "other"]  # noqa: SLF001


def test_empty_candidate_answers_trip_the_length_ratio_guard(stores: tuple[FlagStore, ComparisonStore]) -> None:
    from monitors.analysis.guard import _observation
    from monitors.analysis.policy import RatioTolerance
    from monitors.analysis.samples import PairSample

    tol = RatioTolerance(min=0.8, max=1.25)
    empty = PairSample("chat", {}, {}, 0.0, 0.0, None, None)
    assert _observation(empty, "length_ratio_below", tol) == 1.0
    assert _observation(empty, "length_ratio_above", tol) == -1.0


def test_a_restarted_guard_continues_the_same_sequences(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    settings = GuardSettings(enabled=True, threshold=3)
    first = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    source = PairSource(injected("benign-sensitive", 40.0), seed=4)
    _insert(comparisons, source, 600)
    first.check_once()
    assert first.evidence is not None
    assert _pairs_read(first) == 600 and first.evidence.last_row_id == 600
    # A new process (restart) reads the stored evidence and goes on from there: no pair counted twice, none lost.
    second = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    _insert(comparisons, source, 600)
    second.check_once()
    assert second.evidence is not None
    assert _pairs_read(second) == 1200 and second.evidence.last_row_id == 1200
    assert (first.evidence.failed_checks, second.evidence.failed_checks) == (1, 2)  # the failing streak goes on


def _pairs_read(guard: RolloutGuard) -> int:
    assert guard.evidence is not None
    return sum(sum(cell.values()) for (_, metric), cell in guard.evidence.counts.items() if metric == "similarity")


def test_clearing_a_rollback_starts_the_guard_over(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    settings = GuardSettings(enabled=True, threshold=1)
    guard = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    _insert(comparisons, PairSource(injected("benign-sensitive", 30.0), seed=5), 2000)
    assert guard.check_once().action == "rollback"
    flags.apply(FlagUpdate(rollback=False, reason="fixed the calibration set"), actor="ops")
    # The running guard's next save is refused (the operator's reset is newer); it starts over on pairs written
    # after the reset, so the old candidate's evidence cannot roll the fixed one back.
    decision = guard.check_once()
    assert decision.action == "none"
    _insert(comparisons, PairSource({}, seed=6), 300)
    decision = guard.check_once()
    assert decision.action == "none" and not decision.failed
    assert _pairs_read(guard) == 300
    restarted = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    assert restarted.check_once().action == "none" and flags.snapshot().rollback is False


def test_the_guard_does_not_ramp_past_the_pre_ship_gate(stores: tuple[FlagStore, ComparisonStore]) -> None:
    from flags.gate import GateContext

    flags, comparisons = stores
    flags.apply(FlagUpdate(rollout_percent=5, reason="canary"), actor="ops")
    settings = GuardSettings(enabled=True, threshold=1, ramp=RampSettings(enabled=True, step=20, max=50))
    unvalidated = GateContext(True, "b" * 64, "c" * 64, LOOSE.stamp(), {"baseline": {}, "candidate": {}})
    guard = RolloutGuard(settings, LOOSE, flags, comparisons, categories=CATEGORIES, gate=lambda: unvalidated)
    source = PairSource({}, seed=2)
    decisions = []
    for _ in range(4):
        _insert(comparisons, source, 600)
        decisions.append(guard.check_once())
    assert [d.action for d in decisions] == ["hold"] * 4
    assert "pre-ship gate: no validation" in decisions[-1].reason
    assert flags.snapshot().rollout_percent == 5


def _rows_in(category: str, source: PairSource, n: int) -> list[object]:
    """`n` stored rows of the source's pairs, all labelled `category`."""
    return [comparison_row(dataclasses.replace(source.comparison(), category=category), f"user-{next(_KEYS)}", ({}, {}),
                           "", ComparisonStoreSettings(), default_redactor) for _ in range(n)]


def test_the_ramp_waits_for_a_small_category_too(stores: tuple[FlagStore, ComparisonStore]) -> None:
    """A category with fewer pairs than the minimum sample is not shown within tolerance: the ramp holds on it."""
    flags, comparisons = stores
    flags.apply(FlagUpdate(rollout_percent=5, reason="canary"), actor="ops")
    settings = GuardSettings(enabled=True, threshold=1, ramp=RampSettings(enabled=True, step=20, max=50))
    guard = RolloutGuard(settings, LOOSE, flags, comparisons, categories=["chat", "json"])
    source = PairSource({}, seed=6)
    comparisons.insert_many(_rows_in("chat", source, 3000) + _rows_in("json", source, 20))  # type: ignore[arg-type]
    decision = guard.check_once()
    assert decision.action == "hold" and "json/" in decision.reason and "chat/" not in decision.reason
    assert flags.snapshot().rollout_percent == 5


def test_a_restart_with_another_family_starts_a_new_analysis(stores: tuple[FlagStore, ComparisonStore]) -> None:
    flags, comparisons = stores
    settings = GuardSettings(enabled=True, threshold=3)
    first = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES)
    _insert(comparisons, PairSource(injected("benign-sensitive", 40.0), seed=8), 600)
    first.check_once()
    # The allow-list changed: α / family is another level, so the old counts are not continued under it.
    second = RolloutGuard(settings, DEFAULT_POLICY, flags, comparisons, categories=CATEGORIES[:3])
    second.check_once()
    assert second.evidence is not None and second.evidence.family == second.family() != first.family()
    # Rebuilt from the window under the new family (benign-sensitive is `other` now), not continued.
    assert first.evidence is not None and ("benign-sensitive", "refusal_rate") in first.evidence.counts
    assert ("benign-sensitive", "refusal_rate") not in second.evidence.counts and _pairs_read(second) == 600


def test_a_few_users_whose_pairs_all_disagree_one_way_do_not_roll_back_an_a_a_candidate() -> None:
    from flags.comparisons import key_group
    from monitors.analysis.guard import GuardEvidence, beyond_tolerance

    # Identical on average: five heavy users get 150 pairs each where only the candidate refuses, five get 100
    # where only the baseline does, and 3,000 light users one agreeing pair each. Per pair that is +5.9 pp, far
    # beyond the 1 pp tolerance if the pairs were independent; it is ten users' worth of evidence.
    evidence = GuardEvidence(DEFAULT_POLICY.stamp())
    users = ([(f"heavy-up-{i}", 1.0, 150) for i in range(5)] + [(f"heavy-down-{i}", -1.0, 100) for i in range(5)]
             + [(f"light-{i}", 0.0, 1) for i in range(3000)])
    for user, x, pairs in users:
        for _ in range(pairs):
            evidence.add(("chat", "refusal_rate"), x, key_group(user))
    alpha = DEFAULT_POLICY.significance / 21
    assert evidence.tally(("chat", "refusal_rate")).mean > 0.05
    assert beyond_tolerance(evidence, DEFAULT_POLICY, alpha) == []
    assert evidence.design_effect(("chat", "refusal_rate")) > 10
    # Read as independent pairs (no key groups), the same counts would roll the candidate back.
    assert beyond_tolerance(GuardEvidence(evidence.policy, evidence.counts), DEFAULT_POLICY, alpha) == [
        ("chat", "refusal_rate")]
    # A restart reads the groups back: the same design effect, the same decision.
    restored = GuardEvidence.from_json(evidence.to_json(), None)
    assert restored.design_effect(("chat", "refusal_rate")) == evidence.design_effect(("chat", "refusal_rate"))
