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


def samples_from_rows(rows: Iterable[ShadowComparisonRow]) -> list[PairSample]:
    """One PairSample per compared pair (timed-out shadows have no answer to judge and are left out)."""
    return [PairSample(category=row.category, baseline=json.loads(row.baseline_judgement_json),
                       candidate=json.loads(row.candidate_judgement_json), length_ratio=row.length_ratio,
                       similarity=row.similarity, baseline_ttft_s=row.baseline_ttft_s,
                       candidate_ttft_s=row.candidate_ttft_s) for row in rows if row.censored_arm is None]
