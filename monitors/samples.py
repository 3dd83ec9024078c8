"""Turn stored comparison records into the per-pair samples the statistics use."""

from __future__ import annotations

import json
from collections.abc import Iterable

from monitors.verdicts import PairSample
from shadow.records import ShadowComparisonRow


def samples_from_rows(rows: Iterable[ShadowComparisonRow]) -> list[PairSample]:
    """One PairSample per stored comparison."""
    return [PairSample(category=row.category, baseline=json.loads(row.baseline_judgement_json),
                       candidate=json.loads(row.candidate_judgement_json), length_ratio=row.length_ratio,
                       similarity=row.similarity, baseline_ttft_s=row.baseline_ttft_s,
                       candidate_ttft_s=row.candidate_ttft_s) for row in rows]
