"""/admin/verdicts: the regression verdicts per category and metric, over a window of stored pairs."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query

from flags.comparisons import ComparisonStoreError, safe
from gateway.admin.dependencies import Runtime, require_admin
from gateway.admin.schemas import VerdictReportOut, error_responses
from gateway.admin.time_params import TIME_HELP, parse_time
from gateway.runtime import GatewayRuntime
from wire.errors import StoreUnavailable

if TYPE_CHECKING:
    from monitors.analysis.verdicts import VerdictReport

router = APIRouter(prefix="/admin", tags=["verdicts"], dependencies=[Depends(require_admin)])


def verdict_report(runtime: GatewayRuntime, since: datetime) -> VerdictReport:
    """Verdicts over every shadow pair stored since `since`, under the policy in force."""
    # The statistics (scipy, statsmodels) load on the first verdict request, never in a worker that only serves.
    from monitors.analysis.hypothesis_family import HypothesisFamily, live_metric, stored_pair_metric
    from monitors.analysis.live import live_categories, live_window, read_live_counts, unpaired_verdicts
    from monitors.analysis.verdicts import build_report
    from monitors.analysis.window_data import window_from_store

    settings, policy = runtime.settings, runtime.policy
    window = safe(window_from_store, runtime.comparisons, since, None, policy, settings.verdict_sample_size)
    live = read_live_counts(runtime.metrics.collecting_registry())
    # One family per analysis, fixed in advance: paired and live tests share α, whatever data has arrived.
    family = HypothesisFamily.declared_by(policy, settings.categories)
    paired_seen, live_seen = set(window.categories), live_categories(live)
    size = family.size(policy, stored_pair_metric, paired_seen) + family.size(policy, live_metric, live_seen)
    basis = family.basis(paired_seen | live_seen)
    report = build_report(window, policy, settings.baseline.stamp.as_labels(), settings.candidate.stamp.as_labels(),
                          family=size, family_basis=basis)
    report.live_verdicts = unpaired_verdicts(live, policy, family=size)
    report.live_window = live_window(live)
    return report


@router.get("/verdicts", response_model=VerdictReportOut, operation_id="verdicts", responses=error_responses(400, 503))
async def verdicts(runtime: Runtime,
                   since: Annotated[str, Query(max_length=64, description=TIME_HELP)] = "24h") -> dict[str, Any]:
    """Verdicts (paired shadow tests and unpaired live tests, one family) since `since`."""
    # A bad value is a 400 before any work.
    start = parse_time(since or "24h", "since")
    assert start is not None
    try:
        report = await asyncio.to_thread(verdict_report, runtime, start)
    except ComparisonStoreError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return report.as_dict()
