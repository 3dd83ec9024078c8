"""The one routing decision per request: which arm answers, whether the other arm is asked too, and the seed."""

from __future__ import annotations

from dataclasses import dataclass

from flags.bucketing import RolloutDecision, decide_variant
from flags.model import FlagSet
from gateway.proxy.protocol import ProxyRequest
from shadow.sampling import shared_seed, wants_shadow


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """Where one request goes."""

    decision: RolloutDecision
    shadowed: bool


def plan_route(flags: FlagSet, request: ProxyRequest) -> RoutePlan:
    """Decide the arm and the mirror from one flag snapshot; a mirrored request gets a seed both arms share."""
    shadowed = wants_shadow(flags, request.routing_key)
    if shadowed and "seed" not in request.payload:
        # Both arms must sample alike to be comparable: the gateway picks the seed.
        request.payload["seed"] = shared_seed(request.request_id)
    return RoutePlan(decide_variant(flags, request.routing_key, request.category), shadowed)
