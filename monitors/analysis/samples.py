"""Per-pair samples: what the statistics need from one stored comparison or one simulated pair."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flags.comparisons import ShadowComparisonRow


@dataclass(frozen=True, slots=True)
class PairSample:
    """The per-pair facts the statistics need (from a stored comparison or a simulation)."""

    category: str
    baseline: dict[str, Any]  # judgement: refused, format_checked, format_broken, repetitive, ...
    candidate: dict[str, Any]
    length_ratio: float | None
    similarity: float
    baseline_ttft_s: float | None
    candidate_ttft_s: float | None
    # The user the pair came from (pairs of one key are not independent); None: the pair is its own unit.
    routing_key: str | None = None
    # The shadow arm that gave no answer (error, open circuit, timeout): only the failure rate counts this sample.
    failed_arm: str | None = None
    # Whether a failed shadow would have shown up as a sample (shadow traffic does; a validation's items do not).
    shadow_tracked: bool = False


def samples_from_rows(rows: Iterable[ShadowComparisonRow]) -> list[PairSample]:
    """One PairSample per stored shadow: compared pairs, and failed shadows (counted only by the failure rate)."""
    return [PairSample(category=row.category, baseline=json.loads(row.baseline_judgement_json),
                       candidate=json.loads(row.candidate_judgement_json), length_ratio=row.length_ratio,
                       similarity=row.similarity, baseline_ttft_s=row.baseline_ttft_s,
                       candidate_ttft_s=row.candidate_ttft_s, routing_key=row.routing_key_hash,
                       failed_arm=row.censored_arm, shadow_tracked=True) for row in rows]
