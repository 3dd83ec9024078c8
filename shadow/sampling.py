"""Which requests are mirrored: sticky by routing key like the rollout, under an independent salt."""

from __future__ import annotations

import hashlib

from flags.bucketing import bucket_of, candidate_buckets
from flags.model import FlagSet

SHADOW_SALT_SUFFIX = "/shadow"


def wants_shadow(flags: FlagSet, routing_key: str) -> bool:
    """True when this key is in the shadow share; rollback stops every shadow to the candidate at once."""
    if flags.rollback or flags.shadow_percent <= 0:
        return False
    return bucket_of(flags.salt + SHADOW_SALT_SUFFIX, routing_key) < candidate_buckets(flags.shadow_percent)


def shared_seed(request_id: str) -> int:
    """A seed both arms get when the client set none, so their sampling is comparable."""
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def key_hash(routing_key: str) -> str:
    """Stored instead of the routing key itself."""
    return hashlib.blake2b(routing_key.encode(), digest_size=8).hexdigest()
