"""GET /admin/verdicts: the regression verdicts per category and metric, as JSON."""

from __future__ import annotations

import asyncio
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from flags.comparisons import ComparisonStoreError, safe
from gateway.admin import check_token
from gateway.admin_comparisons import parse_time
from gateway.runtime import GatewayRuntime
from monitors.analysis.live import live_tests, live_window, read_live_counts, unpaired_verdicts
from monitors.analysis.verdicts import INSUFFICIENT, VerdictReport, build_report
from monitors.analysis.window_data import window_from_store
from wire.errors import StoreUnavailable


def verdict_report(runtime: GatewayRuntime, since: datetime) -> VerdictReport:
    """Verdicts over every shadow pair stored since `since`, under the policy in force."""
    settings = runtime.settings
    window = safe(window_from_store, runtime.comparisons, since, None, runtime.policy, settings.verdict_sample_size)
    live = read_live_counts(runtime.metrics.collecting_registry())
    # One family per analysis: paired and live tests share α.
    report = build_report(window, runtime.policy, settings.baseline.stamp.as_labels(),
                          settings.candidate.stamp.as_labels(), other_tests=live_tests(live, runtime.policy))
    paired = sum(v.verdict != INSUFFICIENT for v in report.verdicts)
    report.live_verdicts = unpaired_verdicts(live, runtime.policy, other_tests=paired)
    report.live_window = live_window(live)
    return report


class VerdictsApi:
    """The verdicts endpoint."""

    def __init__(self, runtime: GatewayRuntime) -> None:
        self.runtime = runtime

    async def verdicts(self, request: Request) -> Response:
        """?since=24h (ISO-8601 or a duration)."""
        check_token(self.runtime, request)
        # A bad value is a 400 before any work.
        since = parse_time(request.query_params.get("since") or "24h", "since")
        try:
            report = await asyncio.to_thread(verdict_report, self.runtime, since)
        except ComparisonStoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return JSONResponse(report.as_dict())

    def routes(self) -> list[BaseRoute]:
        """Starlette routes."""
        return [Route("/admin/verdicts", self.verdicts, methods=["GET"])]
