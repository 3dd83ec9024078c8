"""The Grafana dashboard, generated here and committed as monitors/assets/grafana-dashboard.json.

Two halves, quality first, so a regression is never waved through because the savings look good:
"Did it break?" (quality per category, alerts) above "Did it improve?" (latency, throughput, cost).
Regenerate with: python -m monitors.dashboard
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSET = Path(__file__).parent / "assets" / "grafana-dashboard.json"
# The chart ships copies of monitors/assets/ (Helm reads only files inside the chart): derived, never edited there.
CHART_FILES = Path(__file__).resolve().parents[1] / "helm" / "quantgate" / "files"
SYNCED_ASSETS = ("grafana-dashboard.json", "prometheus-rules.yaml")
DS = {"type": "prometheus", "uid": "${datasource}"}
CAT = 'category=~"$category"'
RATE = "$__rate_interval"


def _panel(pid: int, title: str, targets: list[tuple[str, str]], x: int, y: int, unit: str = "short",
           kind: str = "timeseries", w: int = 12, h: int = 8, description: str = "") -> dict[str, Any]:
    return {
        "id": pid, "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}}
        if kind == "timeseries" else {},
        "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def _row(pid: int, title: str, y: int) -> dict[str, Any]:
    return {"id": pid, "type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
            "panels": []}


def _quality_panels() -> list[dict[str, Any]]:
    judged = f"sum by (variant, category) (rate(quantgate_answers_judged_total{{{CAT}}}[{RATE}]))"
    checked = f"sum by (variant, category) (rate(quantgate_format_checked_total{{{CAT}}}[{RATE}]))"
    return [
        _row(100, "Did it break? Quality per category", 0),
        _panel(1, "Refusal rate by variant and category",
               [(f"sum by (variant, category) (rate(quantgate_refusals_total{{{CAT}}}[{RATE}])) / {judged}",
                 "{{variant}} {{category}}")], 0, 1, "percentunit"),
        _panel(2, "Refusal rate: candidate minus baseline (alert above 1 pp)",
               [(f"quantgate:refusal_rate:candidate_minus_baseline{{{CAT}}}", "{{category}}")], 12, 1, "percentunit"),
        _panel(3, "Format-break rate by variant and category (JSON asked / structured categories)",
               [(f"sum by (variant, category) (rate(quantgate_format_breaks_total{{{CAT}}}[{RATE}])) / {checked}",
                 "{{variant}} {{category}}")], 0, 9, "percentunit"),
        _panel(4, "Format-break rate: candidate minus baseline (alert above 0.5 pp)",
               [(f"quantgate:format_break_rate:candidate_minus_baseline{{{CAT}}}", "{{category}}")], 12, 9,
               "percentunit"),
        _panel(5, "Output length: candidate / baseline (alert outside 0.8-1.25)",
               [(f"quantgate:answer_length_tokens:candidate_over_baseline{{{CAT}}}", "{{category}}")], 0, 17),
        _panel(6, "Shadow pair similarity, median (head: first 256 words, tail: the rest)",
               [(f"histogram_quantile(0.5, sum by (le, category, segment) "
                 f"(rate(quantgate_shadow_similarity_bucket{{{CAT}}}[{RATE}])))", "{{category}} {{segment}}")],
               12, 17, "percentunit"),
        _panel(7, "Shadow flips per minute (which arm got worse)",
               [(f"sum by (category, kind, direction) (rate(quantgate_shadow_flips_total{{{CAT}}}[{RATE}])) * 60",
                 "{{category}} {{kind}} {{direction}}")], 0, 25),
        _panel(8, "Repetition loops and truncations by variant",
               [(f"sum by (variant) (rate(quantgate_repetition_loops_total{{{CAT}}}[{RATE}]))"
                 f" / sum by (variant) (rate(quantgate_answers_judged_total{{{CAT}}}[{RATE}]))", "loops {{variant}}"),
                (f"sum by (variant) (rate(quantgate_truncated_answers_total{{{CAT}}}[{RATE}]))"
                 f" / sum by (variant) (rate(quantgate_answers_judged_total{{{CAT}}}[{RATE}]))",
                 "truncated {{variant}}")], 12, 25, "percentunit"),
        _panel(9, "Firing quantgate alerts", [('ALERTS{alertname=~"Quantgate.*", alertstate="firing"}',
                                               "{{alertname}} {{category}}")], 0, 33, kind="table", w=12),
        _panel(10, "Rollout state", [("max(quantgate_rollback_active)", "rollback active"),
                                     ("max(quantgate_flag_rollout_percent)", "rollout %"),
                                     ("max(quantgate_flag_shadow_percent)", "shadow %"),
                                     ("sum(rate(quantgate_shadow_drops_total[$__rate_interval])) * 60",
                                      "shadow drops / min")], 12, 33, kind="stat", w=12),
        _panel(17, "User feedback per answer: candidate minus baseline, by signal (alert above 1 pp + 4 standard "
                   "errors)",
               [(f"quantgate:feedback_rate:candidate_minus_baseline_1h{{{CAT}}}", "{{category}} {{signal}}")], 0, 41,
               "percentunit", w=24,
               description="Signals applications send back (POST /v1/feedback: thumbs-down, escalations, downstream "
                           "errors) per primary answer over the last hour; the verdicts judge them against the "
                           "policy's tolerances."),
    ]


def _savings_panels() -> list[dict[str, Any]]:
    tokens = f"sum by (variant) (rate(quantgate_output_tokens_sum[{RATE}]))"
    return [
        _row(200, "Did it improve? Latency, throughput, cost", 49),
        _panel(11, "TTFT p50 / p95 by variant",
               [(f"histogram_quantile(0.5, sum by (le, variant) (rate(quantgate_time_to_first_token_seconds_bucket"
                 f"{{{CAT}}}[{RATE}])))", "p50 {{variant}}"),
                (f"histogram_quantile(0.95, sum by (le, variant) (rate(quantgate_time_to_first_token_seconds_bucket"
                  f"{{{CAT}}}[{RATE}])))", "p95 {{variant}}")], 0, 50, "s"),
        _panel(12, "Request duration p95 by variant",
               [(f"histogram_quantile(0.95, sum by (le, variant) (rate(quantgate_request_duration_seconds_bucket"
                 f"{{{CAT}}}[{RATE}])))", "{{variant}}")], 12, 50, "s"),
        _panel(13, "Throughput: requests/s by variant and status",
               [(f"sum by (variant, status) (rate(quantgate_requests_total{{{CAT}}}[{RATE}]))",
                 "{{variant}} {{status}}")], 0, 58, "reqps"),
        _panel(14, "Output tokens/s by variant", [(tokens, "{{variant}}")], 12, 58),
        _panel(15, "Inter-token latency p50 by variant",
               [(f"histogram_quantile(0.5, sum by (le, variant) (rate(quantgate_inter_token_latency_seconds_bucket"
                 f"{{{CAT}}}[{RATE}])))", "{{variant}}")], 0, 66, "s"),
        _panel(16, "Cost per million output tokens (backend hourly cost from settings)",
               [(f"max by (variant) (quantgate_backend_hourly_cost_dollars) / ({tokens} * 3600) * 1e6",
                 "{{variant}}")], 12, 66, "currencyUSD",
               description="Hourly cost of each backend (settings: baseline/candidate hourly_cost_usd) divided by "
                           "the tokens it generated through the gateway."),
    ]


def build_dashboard() -> dict[str, Any]:
    """The dashboard model (Grafana schema 39)."""
    return {
        "uid": "quantgate-rollout", "title": "quantgate: quantized rollout", "tags": ["quantgate", "llm"],
        "schemaVersion": 39, "version": 1, "editable": True, "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s", "timezone": "browser",
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            {"name": "category", "label": "Category", "type": "query", "datasource": DS,
             "query": {"query": "label_values(quantgate_requests_total, category)", "refId": "categories"},
             "definition": "label_values(quantgate_requests_total, category)", "includeAll": True, "multi": True,
             "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "refresh": 2},
        ]},
        "annotations": {"list": []},
        "panels": _quality_panels() + _savings_panels(),
    }


def main() -> None:
    """Write the committed JSON asset, then copy the monitoring assets into the chart."""
    ASSET.write_text(json.dumps(build_dashboard(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {ASSET}")
    for name in SYNCED_ASSETS:
        (CHART_FILES / name).write_bytes((ASSET.parent / name).read_bytes())
        print(f"copied {name} to {CHART_FILES}")


if __name__ == "__main__":
    main()
