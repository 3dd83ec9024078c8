"""The pre-ship gate inside the flag write: refused changes write nothing, overrides are audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flags.gate import Exposure, GateContext, RolloutGated
from flags.store import FlagStore
from flags.updates import FlagUpdate
from flags.validations import ValidationRow

IDENTITY = {"baseline": {"served_models": ["b"], "root": "/m/bf16", "max_model_len": 2048,
                         "runtime_version": "vllm-0.32", "quantization_config_sha256": None},
            "candidate": {"served_models": ["c"], "root": "/m/w8a8", "max_model_len": 2048,
                          "runtime_version": "vllm-0.32", "quantization_config_sha256": None}}


@pytest.fixture
def store(tmp_path: Path) -> FlagStore:
    store = FlagStore(f"sqlite:///{tmp_path / 'flags.db'}")
    store.ensure_schema()
    return store


def _gate(identity: dict | None = None, enabled: bool = True) -> GateContext:
    return GateContext(enabled, "b" * 64, "c" * 64, "policy@1", json.loads(json.dumps(identity or IDENTITY)))


def _record(store: FlagStore, outcome: str = "pass", failing: list[str] | None = None,
            inconclusive: list[str] | None = None, policy: str = "policy@1") -> int:
    return store.add_validation(ValidationRow(
        created_at=datetime.now(UTC), actor="test", baseline_stamp_sha256="b" * 64, candidate_stamp_sha256="c" * 64,
        policy=policy, suite="s@1", suite_sha256="s" * 64, outcome=outcome, failing_json=json.dumps(failing or []),
        inconclusive_json=json.dumps(inconclusive or []), identity_json=json.dumps(IDENTITY)))


def _raise(store: FlagStore, percent: float, gate: GateContext, **extra: object) -> None:
    store.apply(FlagUpdate(rollout_percent=percent, reason="ramp", **extra), actor="ops", gate=gate)


def test_an_unvalidated_candidate_gets_no_traffic_and_nothing_is_written(store: FlagStore) -> None:
    with pytest.raises(RolloutGated, match="no validation") as refused:
        _raise(store, 10, _gate())
    assert refused.value.decision.missing == ("validation",)
    assert store.snapshot().rollout_percent == 0 and store.snapshot().version == 1
    assert [e.flag for e in store.audit()] == ["*"]


def test_a_validation_under_another_policy_does_not_count(store: FlagStore) -> None:
    _record(store, policy="other@2")
    with pytest.raises(RolloutGated):
        _raise(store, 10, _gate())


def test_a_passing_validation_opens_the_rollout(store: FlagStore) -> None:
    _record(store)
    _raise(store, 10, _gate())
    _raise(store, 50, _gate())
    assert store.snapshot().rollout_percent == 50


def test_a_changed_stack_freezes_the_rollout_but_not_its_way_back(store: FlagStore) -> None:
    _record(store)
    _raise(store, 20, _gate())
    moved = json.loads(json.dumps(IDENTITY))
    moved["candidate"]["runtime_version"] = "vllm-0.33"
    with pytest.raises(RolloutGated, match="candidate runtime_version 'vllm-0.32' -> 'vllm-0.33'"):
        _raise(store, 30, _gate(moved))
    _raise(store, 5, _gate(moved))  # lowering is never gated
    store.apply(FlagUpdate(rollback=True, reason="incident"), actor="ops", gate=_gate(moved))
    with pytest.raises(RolloutGated):  # clearing the rollback would expose users again
        store.apply(FlagUpdate(rollback=False, reason="resume"), actor="ops", gate=_gate(moved))
    store.apply(FlagUpdate(shadow_percent=50, reason="more shadows"), actor="ops", gate=_gate(moved))
    assert (store.snapshot().rollout_percent, store.snapshot().rollback) == (5, True)


def test_an_unreachable_backend_is_not_a_validated_one(store: FlagStore) -> None:
    _record(store)
    with pytest.raises(RolloutGated, match="identity is unknown"):
        _raise(store, 10, _gate({"baseline": IDENTITY["baseline"], "candidate": None}))


def test_a_failing_validation_ships_only_where_it_passed(store: FlagStore) -> None:
    _record(store, outcome="fail", failing=["json"], inconclusive=["math"])
    with pytest.raises(RolloutGated, match="regressed in json and was inconclusive in math") as refused:
        _raise(store, 10, _gate())
    assert refused.value.decision.failing == ("json", "math")
    store.apply(FlagUpdate(category_overrides={"json": "baseline", "math": "baseline"}, reason="pins"),  # type: ignore[dict-item]
                actor="ops", gate=_gate())
    _raise(store, 10, _gate())
    with pytest.raises(RolloutGated):  # unpinning a failed category would expose it
        store.apply(FlagUpdate(category_overrides={"json": None}, reason="unpin"), actor="ops", gate=_gate())
    assert store.snapshot().category_overrides["json"].value == "baseline"


def test_an_override_lands_and_is_audited_with_what_was_missing(store: FlagStore) -> None:
    _raise(store, 10, _gate(), override_gate=True, actor="alice")
    entries = store.audit()
    override = next(e for e in entries if e.flag == "gate_override")
    assert override.actor == "alice" and override.reason == "ramp"
    assert override.old_value["missing"] == ["validation"] and override.new_value == ["rollout_percent"]
    assert store.snapshot().rollout_percent == 10


def test_a_disabled_gate_refuses_nothing(store: FlagStore) -> None:
    _raise(store, 10, _gate(enabled=False))
    assert not [e for e in store.audit() if e.flag == "gate_override"]


@pytest.mark.parametrize(("before", "after", "raised"), [
    ((10, False, {}), (20, False, {}), True),
    ((20, False, {}), (10, False, {}), False),
    ((20, True, {}), (20, False, {}), True),
    ((0, False, {}), (0, False, {"chat": "candidate"}), True),
    ((10, False, {"json": "baseline"}), (10, False, {}), True),
    ((0, False, {"json": "baseline"}), (0, False, {}), False),
    ((10, False, {}), (10, True, {}), False),
])
def test_what_counts_as_more_candidate_traffic(before: tuple, after: tuple, raised: bool) -> None:
    assert Exposure.of(*before).raised_by(Exposure.of(*after)) is raised
