"""Sticky, monotonic bucketing and the precedence of rollback, pins and percentage."""

from __future__ import annotations

import math
from types import MappingProxyType

from flags.bucketing import BUCKETS, bucket_of, decide_variant
from flags.model import FlagSet, Variant


def _flags(**values: object) -> FlagSet:
    base = {"version": 1, "rollout_percent": 0.0, "shadow_percent": 0.0, "rollback": False, "salt": "s1"}
    return FlagSet(**{**base, **values})  # type: ignore[arg-type]


def test_buckets_are_stable_and_spread() -> None:
    keys = [f"user-{i}" for i in range(20_000)]
    buckets = [bucket_of("salt", k) for k in keys]
    assert buckets == [bucket_of("salt", k) for k in keys]
    assert all(0 <= b < BUCKETS for b in buckets)
    share = sum(b < 2500 for b in buckets) / len(keys)
    assert abs(share - 0.25) < 4 * math.sqrt(0.25 * 0.75 / len(keys))


def test_raising_the_percent_only_adds_keys() -> None:
    keys = [f"k{i}" for i in range(5000)]
    previous: set[str] = set()
    for percent in (0, 1, 5, 10, 33.3, 50, 99.99, 100):
        flags = _flags(rollout_percent=percent)
        chosen = {k for k in keys if decide_variant(flags, k, "default").variant is Variant.CANDIDATE}
        assert previous <= chosen
        previous = chosen
    assert previous == set(keys)


def test_salt_reshuffles_keys() -> None:
    keys = [f"k{i}" for i in range(2000)]
    a = {k for k in keys if decide_variant(_flags(rollout_percent=50, salt="a"), k, "d").variant is Variant.CANDIDATE}
    b = {k for k in keys if decide_variant(_flags(rollout_percent=50, salt="b"), k, "d").variant is Variant.CANDIDATE}
    assert 0.3 < len(a & b) / len(a) < 0.7


def test_rollback_beats_pins_which_beat_percent() -> None:
    pins = MappingProxyType({"json": Variant.CANDIDATE, "math": Variant.BASELINE})
    flags = _flags(rollout_percent=100, category_overrides=pins)
    assert decide_variant(flags, "k", "math").variant is Variant.BASELINE
    assert decide_variant(flags, "k", "chat").variant is Variant.CANDIDATE
    rolled_back = _flags(rollout_percent=100, category_overrides=pins, rollback=True)
    decision = decide_variant(rolled_back, "k", "json")
    assert decision.variant is Variant.BASELINE and decision.reason == "rollback"
