"""Sticky, monotonic assignment of routing keys to the candidate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flags.model import FlagSet, Variant

BUCKETS = 10_000


def bucket_of(salt: str, key: str) -> int:
    """Stable bucket in [0, 10000) for a routing key under a salt."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") % BUCKETS


# Live answers are also counted per group of routing keys (under a salt of their own, so a group holds users of both
# arms): users are independent, so groups of them are, and how the groups' rates spread shows how much one user's
# answers cluster (the live verdicts' design effect).
LIVE_KEY_GROUPS = 32
_KEY_GROUP_SALT = "quantgate/live-key-group"


def live_key_group(routing_key: str) -> int:
    """The group a routing key's live answers are counted in."""
    return bucket_of(_KEY_GROUP_SALT, routing_key) % LIVE_KEY_GROUPS


def candidate_buckets(rollout_percent: float) -> int:
    """How many buckets, counted from 0, the candidate owns; growing the percent only adds buckets."""
    return max(0, min(BUCKETS, round(rollout_percent * BUCKETS / 100)))


@dataclass(slots=True)
class RolloutDecision:
    """Where one request goes and why."""

    variant: Variant
    reason: str  # rollback | override | rollout
    bucket: int
    flags_version: int
    # The candidate's share of this category's traffic when the request was routed (percent). Requests routed
    # under one share form one stratum of the live verdicts: comparing arms across shares would confound the
    # split with whatever else changed over time.
    candidate_share: float = 0.0


def decide_variant(flags: FlagSet, routing_key: str, category: str) -> RolloutDecision:
    """Rollback beats a category override, which beats the percentage rollout."""
    bucket = bucket_of(flags.salt, routing_key)
    if flags.rollback:
        return RolloutDecision(Variant.BASELINE, "rollback", bucket, flags.version, 0.0)
    pinned = flags.category_overrides.get(category)
    if pinned is not None:
        return RolloutDecision(pinned, "override", bucket, flags.version,
                               100.0 if pinned == Variant.CANDIDATE else 0.0)
    owned = candidate_buckets(flags.rollout_percent)
    variant = Variant.CANDIDATE if bucket < owned else Variant.BASELINE
    return RolloutDecision(variant, "rollout", bucket, flags.version, owned * 100 / BUCKETS)
