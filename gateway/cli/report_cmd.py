"""`quantgate report`: verdicts per category and metric as a Rich table, plus a self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

from gateway.cli.admin_client import AdminApiError, AdminClient
from gateway.cli.admin_target import AdminConfig, AdminToken, AdminUrl, admin_client
from gateway.cli.console import console, fail
from gateway.cli.fitted_table import Column, cell_text, fitted_table
from gateway.cli.tables import key_values

_STYLE = {"regression": "bold red", "inconclusive": "yellow", "ok": "white", "improvement": "green",
          "insufficient data": "dim"}


def _num(value: Any, scale: float = 1.0, fmt: str = "{:.3g}") -> str:
    return "-" if value is None else fmt.format(value * scale)


_VERDICT_COLUMNS = (Column("category"), Column("metric"), Column("verdict"), Column("effect", justify="right"),
                    Column("interval"), Column("n", justify="right"), Column("baseline", justify="right"),
                    Column("candidate", justify="right"), Column("p adj.", justify="right"),
                    Column("pairs to settle", justify="right"))


def _n_text(verdict: dict[str, Any]) -> str:
    """n, divided by its design effect where one user's observations cluster ("5000 /4.2")."""
    design = verdict.get("design_effect") or 1.0
    return str(verdict["n"]) if design <= 1 else f"{verdict['n']} /{design:.1f}"


def verdict_table(console: Console, report: dict[str, Any], key: str = "verdicts",
                  title: str = "Paired shadow verdicts") -> RenderableType:
    """One row per (category, metric); one block per verdict when the terminal is narrow."""
    kind = report[key][0].get("interval_kind", "") if report[key] else ""
    rows = []
    for v in report[key]:
        low, high = v["interval"]
        needed = v.get("pairs_needed")
        rows.append((v["category"], v["metric"], cell_text(v["verdict"], _STYLE.get(v["verdict"], "")),
                     _num(v["effect"]), f"[{_num(low)}, {_num(high)}]", _n_text(v), _num(v["baseline_value"]),
                     _num(v["candidate_value"]), _num(v["p_adjusted"]), "-" if needed is None else str(needed)))
    return fitted_table(console, f"{title} under {report['policy']} (alpha {report['significance']} family-wise "
                                 f"over m = {report.get('family_size', '?')} tests, "
                                 f"{report.get('family_basis') or 'as counted'}; each verdict tests the "
                                 f"tolerance; intervals: {kind or 'none'})",
                        _VERDICT_COLUMNS, rows, heading_columns=2)


def _plotted_pairs(client: AdminClient, since: str, cap: int = 20_000) -> tuple[list[dict[str, Any]], int]:
    """The newest `cap` pairs for the plots, and how many the window holds (the report states both)."""
    pairs: list[dict[str, Any]] = []
    total = 0
    while len(pairs) < cap:
        page = client.comparisons(since=since, limit=1000, offset=len(pairs))
        pairs += page["comparisons"]
        total = int(page["total"])
        if len(page["comparisons"]) < 1000:
            break
    return pairs, total


def report(
    since: Annotated[Optional[str], typer.Option(
        help="A sliding window instead of the analysis (ISO time or duration back: 24h, 7d); descriptive only.")]
    = None,
    start: Annotated[Optional[str], typer.Option(
        help="Start the analysis here (ISO time or duration back) instead of at the current candidate's first "
             "pair.")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Write the HTML report here.")] = Path("quantgate-report.html"),
    url: AdminUrl = None,
    token: AdminToken = None,
    config: AdminConfig = None,
) -> None:
    """Regression verdicts per category and metric, with an HTML report of the evidence."""
    from monitors.analysis.report_html import render_html
    from monitors.analysis.verdict_reading import clustering_warning

    try:
        client = admin_client(url, token, config)
        data = client.verdicts(since, start)
        pairs, window_pairs = _plotted_pairs(client, since or data["view"].get("start")) if html else ([], 0)
    except AdminApiError as exc:
        fail(str(exc))
    out = console.rich()
    view = data.get("view") or {}
    if not data["verdicts"] and not data.get("live_verdicts"):
        out.print(cell_text(f"No verdicts since {since or view.get('start', 'the analysis start')}: no shadow pairs "
                            "and no judged live answers yet. Turn shadowing on (`quantgate flags set --shadow 5 "
                            "--reason ...`) or choose an earlier --start."))
        return
    out.print(cell_text(view.get("note", "")))
    out.print(verdict_table(out, data))
    if data.get("live_verdicts"):
        out.print(verdict_table(out, data, "live_verdicts", "Unpaired live-traffic verdicts (within routing strata)"))
    clustered = clustering_warning(data)
    if clustered:
        out.print(cell_text(f"warning: {clustered}", "yellow"))
    baseline, candidate = data["baseline_stamp"], data["candidate_stamp"]
    out.print(cell_text(f"Models: baseline {baseline.get('model')} ({baseline.get('quantization')})"
                        f" vs candidate {candidate.get('model')} ({candidate.get('quantization')}"
                        f", calibration set {data['calibration_set'] or 'not stated'}); pairs per category "
                        f"{key_values(data['strata'])}"))
    if html:
        html.write_text(render_html(data, pairs, window_pairs), encoding="utf-8")
        out.print(f"HTML report: {html.resolve()}")
