"""/admin/verdicts: the regression verdicts per category and metric, over a window of stored pairs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query

from flags.comparisons import ComparisonStoreError, safe
from flags.store import FlagStoreUnavailable
from gateway.admin.dependencies import Runtime, require_admin
from gateway.admin.schemas import VerdictReportOut, error_responses
from gateway.admin.time_params import TIME_HELP, parse_time
from gateway.runtime import GatewayRuntime
from wire.errors import InvalidRequest, StoreUnavailable

# The interval kinds of `monitors.analysis.verdicts` (named here so reading the view loads no statistics).
ANYTIME_LOOK, SINGLE_LOOK = "anytime", "single"

if TYPE_CHECKING:
    from monitors.analysis.verdicts import VerdictReport

router = APIRouter(prefix="/admin", tags=["verdicts"], dependencies=[Depends(require_admin)])


def analysis_view(runtime: GatewayRuntime, since: datetime | None,
                  start: datetime | None) -> tuple[datetime, dict[str, Any]]:
    """Where a report's pairs begin, and what they are: one growing analysis from its start (the default), or a
    sliding window."""
    if since is not None:
        return since, {"kind": "window", "since": since.isoformat(), "looks": SINGLE_LOOK,
                       "note": "A sliding window: old pairs leave it, so successive reads are not one growing "
                               "sequence. Its intervals are fixed-sample, valid for this one look only: a descriptive "
                               "view, not the analysis the verdicts stand on"}
    basis = "set by the operator"
    if start is None:
        from flags.window_queries import analysis_start

        try:
            state = runtime.store.guard_state()
        except FlagStoreUnavailable as exc:
            # The same database as the pairs: the report cannot be read, as when the pairs cannot.
            raise ComparisonStoreError(str(exc)) from exc
        stamp = json.dumps(runtime.settings.candidate.stamp.as_labels())
        start = safe(analysis_start, runtime.comparisons, stamp, state.reset_at if state else None)
        basis = ("the first pair of the current candidate stamp (after any other stamp's pairs and any cleared "
                 "rollback)")
    chosen = start or datetime.now(UTC)
    return chosen, {"kind": "analysis", "start": chosen.isoformat(), "looks": ANYTIME_LOOK,
                    "note": f"One analysis that only grows, from {chosen.isoformat(timespec='seconds')} ({basis}): "
                            "its anytime-valid verdicts hold however often they are read"}


def verdict_report(runtime: GatewayRuntime, since: datetime | None = None,
                   start: datetime | None = None) -> VerdictReport:
    """Verdicts under the policy in force: over the current analysis from its start, or over pairs since `since`."""
    # The statistics (scipy, statsmodels) load on the first verdict request, never in a worker that only serves.
    from monitors.analysis.hypothesis_family import HypothesisFamily, live_metric, stored_pair_metric
    from monitors.analysis.live import live_categories, live_window, read_live_counts, unpaired_verdicts
    from monitors.analysis.verdicts import build_report
    from monitors.analysis.window_data import window_from_store

    settings, policy = runtime.settings, runtime.policy
    begin, view = analysis_view(runtime, since, start)
    window = safe(window_from_store, runtime.comparisons, begin, None, policy, settings.verdict_sample_size)
    live = read_live_counts(runtime.metrics.collecting_registry())
    # One family per analysis, fixed in advance: paired and live tests share α, whatever data has arrived.
    family = HypothesisFamily.declared_by(policy, settings.categories)
    paired_seen, live_seen = set(window.categories), live_categories(live)
    size = family.size(policy, stored_pair_metric, paired_seen) + family.size(policy, live_metric, live_seen)
    basis = family.basis(paired_seen | live_seen)
    report = build_report(window, policy, settings.baseline.stamp.as_labels(), settings.candidate.stamp.as_labels(),
                          looks=view["looks"], family=size, family_basis=basis)
    report.view = view
    report.live_verdicts = unpaired_verdicts(live, policy, family=size)
    report.live_window = live_window(live)
    return report


@router.get("/verdicts", response_model=VerdictReportOut, operation_id="verdicts", responses=error_responses(400, 503))
async def verdicts(runtime: Runtime,
                   since: Annotated[str | None, Query(max_length=64, description="A sliding window instead of the "
                                                      "analysis: " + TIME_HELP)] = None,
                   start: Annotated[str | None, Query(max_length=64, description="Start the analysis here instead of "
                                                      "at the current candidate's first pair: " + TIME_HELP)] = None,
                   ) -> dict[str, Any]:
    """Verdicts (paired shadow tests and unpaired live tests, one family): by default over the current analysis,
    which only grows from its start; `since` gives a sliding window's fixed-sample, descriptive view."""
    # A bad value is a 400 before any work.
    window_since = parse_time(since, "since") if since else None
    analysis_start = parse_time(start, "start") if start else None
    if window_since is not None and analysis_start is not None:
        raise InvalidRequest("give `since` (a sliding window) or `start` (the analysis' start), not both",
                             param="since")
    try:
        report = await asyncio.to_thread(verdict_report, runtime, window_since, analysis_start)
    except ComparisonStoreError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return report.as_dict()
