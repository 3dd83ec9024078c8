"""Rollout flags: the flag set, its SQL store and audit log, sticky bucketing, and propagation to workers."""

from __future__ import annotations

from flags.bucketing import RolloutDecision, bucket_of, decide_variant
from flags.cache import FlagCache
from flags.model import SAFE_DEFAULT_FLAGS, AuditEntry, FlagSet, Variant
from flags.store import FlagStore, FlagStoreUnavailable
from flags.updates import FlagUpdate, RollbackRequest

__all__ = [
    "SAFE_DEFAULT_FLAGS",
    "AuditEntry",
    "FlagCache",
    "FlagSet",
    "FlagStore",
    "FlagStoreUnavailable",
    "FlagUpdate",
    "RollbackRequest",
    "RolloutDecision",
    "Variant",
    "bucket_of",
    "decide_variant",
]
