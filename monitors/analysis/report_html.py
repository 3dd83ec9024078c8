"""A self-contained HTML report: verdict table and plots embedded as PNG data URIs (matplotlib)."""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from monitors.analysis.metric_definitions import RATES  # noqa: E402
from monitors.analysis.verdict_reading import (  # noqa: E402
    CategoryView,
    bar_svg,
    category_views,
    clustering_warning,
    stamp_rows,
)

# The rates every stored pair carries (the others are only judged where their checks ran).
_RATE_METRICS = tuple(metric.name for metric in RATES if metric.stored)
_COLORS = {"regression": "#c0392b", "inconclusive": "#e67e22", "ok": "#7f8c8d", "improvement": "#27ae60",
           "insufficient data": "#bdc3c7"}


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _delta_plot(verdicts: list[dict[str, Any]]) -> str:
    fig, axes = plt.subplots(1, len(_RATE_METRICS), figsize=(4.2 * len(_RATE_METRICS), 3.6), sharey=True)
    for ax, metric in zip(axes, _RATE_METRICS, strict=True):
        rows = [v for v in verdicts if v["metric"] == metric]
        for i, v in enumerate(rows):
            low, high = (x * 100 if x is not None else None for x in v["interval"])
            effect = (v["effect"] or 0.0) * 100
            ax.errorbar(effect, i, xerr=[[effect - (low if low is not None else effect)],
                                         [(high if high is not None else effect) - effect]],
                        fmt="o", color=_COLORS.get(v["verdict"], "black"), capsize=3)
            tolerance = v["tolerance"].get("max_increase_pp")
            if tolerance is not None:
                ax.plot([tolerance], [i], marker="|", color="#e67e22", markersize=14)
        ax.set_yticks(range(len(rows)), [r["category"] for r in rows])
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{metric} (candidate - baseline, pp)", fontsize=9)
    fig.suptitle("Per-category deltas with intervals (orange tick: tolerance)", fontsize=10)
    return _png(fig)


def _length_plot(pairs: list[dict[str, Any]]) -> str:
    categories = sorted({p["category"] for p in pairs if p.get("length_ratio")})
    fig, ax = plt.subplots(figsize=(8, 3.6))
    data = [[p["length_ratio"] for p in pairs if p["category"] == c and p.get("length_ratio")] for c in categories]
    if data:
        ax.boxplot(data, tick_labels=categories, showfliers=True)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("length ratio candidate / baseline")
    ax.set_title("Length-ratio distribution per category", fontsize=10)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return _png(fig)


def _ttft_plot(pairs: list[dict[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for variant, color in (("baseline", "#2c3e50"), ("candidate", "#e67e22")):
        points = sorted((datetime.fromisoformat(p["created_at"]), p[f"{variant}_ttft_s"] * 1000)
                        for p in pairs if p.get(f"{variant}_ttft_s"))
        if points:
            ax.plot([t for t, _ in points], [v for _, v in points], ".", color=color, label=variant, alpha=0.6)
    ax.set_ylabel("TTFT ms")
    ax.set_title("TTFT by variant over time (shadow pairs, streamed)", fontsize=10)
    ax.legend()
    fig.autofmt_xdate()
    return _png(fig)


def _answer(views: list[CategoryView]) -> str:
    """The answer first: which categories regressed, which are undecided and what would settle them."""
    regressed = [v.category for v in views if v.status == "regression"]
    undecided = [v for v in views if v.status == "inconclusive"]
    text = (f"<strong>Yes, in {html.escape(', '.join(regressed))}</strong>: an interval lies beyond its committed "
            "tolerance." if regressed else "<strong>No regression shown.</strong>")
    if undecided:
        needs = "; ".join(f"{html.escape(v.category)} {r.metric} needs about {r.pairs_needed:,} pairs"
                          for v in undecided for r in v.rows if r.verdict == "inconclusive" and r.pairs_needed)
        text += (f" Not yet decided in {html.escape(', '.join(v.category for v in undecided))}"
                 + (f" ({needs})" if needs else "") + ".")
    return (f"<p class='answer'>{text} “No evidence of a regression” is not “within tolerance”: only <em>ok</em> "
            "says the interval lies inside it.</p>")


def _category_tables(views: list[CategoryView]) -> str:
    parts = []
    for view in views:
        rows = "".join(f"<tr><td>{r.metric}</td><td>{r.source}</td><td style='color:{_COLORS.get(r.verdict, 'black')}'>"
                       f"<b>{r.verdict}</b></td><td>{html.escape(r.estimate)}</td><td>{bar_svg(r)}"
                       f"<small>{html.escape(r.interval)}</small></td><td>{html.escape(r.tolerance)}</td>"
                       f"<td>{r.n_text}</td></tr>" for r in view.rows)
        parts.append(f"<h3>{html.escape(view.category)}: <span style='color:{_COLORS.get(view.status, 'black')}'>"
                     f"{view.status}</span></h3><table><tr><th>metric</th><th>from</th><th>verdict</th>"
                     f"<th>estimate</th><th>interval against the tolerance</th><th>tolerance</th><th>n</th></tr>"
                     f"{rows}</table>")
    return "".join(parts)


def _stamps(report: dict[str, Any]) -> str:
    def listing(stamp: dict[str, Any]) -> str:
        return "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in stamp_rows(stamp))

    return (f"<h2>Models</h2><div class='two'><section><h3>baseline</h3><dl>{listing(report['baseline_stamp'])}</dl>"
            f"</section><section><h3>candidate</h3><dl>{listing(report['candidate_stamp'])}</dl></section></div>")


def _coverage(report: dict[str, Any], plotted: int, window_pairs: int) -> str:
    kind = (report["verdicts"][0]["interval_kind"] if report["verdicts"] else "")
    sample = ("every pair" if report.get("sample_exhaustive", True)
              else f"a sample of {report.get('sampled_pairs', 0):,} of them (each pair equally likely, nested as "
                   "the analysis grows)")
    family = (f"alpha / m with m = {report['family_size']} tests ({html.escape(report.get('family_basis', ''))})"
              if report.get("family_size") else "alpha / (tests run)")
    view = report.get("view") or {}
    clustered = clustering_warning(report)
    warning = f"<p class='warning'>{html.escape(clustered)}</p>" if clustered else ""
    return (f"<p><b>View</b>: {html.escape(view.get('note', 'pairs in the window'))}.</p>"
            f"<p><b>Data</b>: {report.get('window_pairs', 0):,} pairs in the window. Rates and sign tests count "
            f"every pair; quantiles and medians use {sample}. Intervals: {html.escape(kind)}, each bound one-sided at "
            f"{family}. Plots below show the newest {plotted:,} of {window_pairs:,} pairs.</p>{warning}")


def render_html(report: dict[str, Any], pairs: list[dict[str, Any]], window_pairs: int | None = None) -> str:
    """The whole report page, the answer first (`pairs`: what the plots show, out of `window_pairs` in the window)."""
    views = category_views(report)
    calibration = html.escape(report["calibration_set"] or "not stated")
    facts = (f"<p class='muted'>Policy {html.escape(report['policy'])} (α {report['significance']}, Bonferroni across "
             f"the categories × metrics tested) · calibration set {calibration}"
             f" · generated {html.escape(report['generated_at'][:19].replace('T', ' '))} UTC · paired samples per "
             f"category: {html.escape(', '.join(f'{k} {v}' for k, v in report['strata'].items()) or 'none')}</p>"
             + _coverage(report, len(pairs), len(pairs) if window_pairs is None else window_pairs))
    plots = "".join(f"<img src='{src}'>" for src in (_delta_plot(report["verdicts"]), _length_plot(pairs),
                                                     _ttft_plot(pairs)))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>quantgate regression report</title><style>"
            "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.4em 0 1em}"
            "td,th{border-bottom:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}"
            "svg.bar{width:200px;height:12px;display:block;background:#f6f7f7}.answer{font-size:1.1em}"
            ".muted{color:#555}dl{display:grid;grid-template-columns:max-content 1fr;gap:0 .8em}dd{margin:0}"
            ".two{display:grid;grid-template-columns:1fr 1fr;gap:1em}img{display:block;margin:1em 0;max-width:100%}"
            "@media print{body{margin:0}img{max-width:100%;page-break-inside:avoid}h3{page-break-after:avoid}}"
            "</style></head><body><h1>Did the candidate regress?</h1>"
            f"{_answer(views)}{facts}{_stamps(report)}<h2>Per category</h2>{_category_tables(views)}"
            f"<h2>Plots</h2>{plots}</body></html>")
