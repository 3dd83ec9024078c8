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


def _table(report: dict[str, Any]) -> str:
    rows = []
    for v in report["verdicts"]:
        interval = ", ".join("-" if x is None else f"{x:.4g}" for x in v["interval"])
        p_adj = "-" if v["p_adjusted"] is None else f"{v['p_adjusted']:.3g}"
        rows.append(f"<tr><td>{html.escape(v['category'])}</td><td>{v['metric']}</td>"
                    f"<td style='color:{_COLORS.get(v['verdict'], 'black')}'><b>{v['verdict']}</b></td>"
                    f"<td>{(v['effect'] or 0):.4g}</td><td>[{interval}]</td><td>{v['n']}</td>"
                    f"<td>{(v['baseline_value'] or 0):.4g}</td><td>{(v['candidate_value'] or 0):.4g}</td>"
                    f"<td>{p_adj}</td><td>{html.escape(str(v['tolerance']))}</td></tr>")
    return ("<table><tr><th>category</th><th>metric</th><th>verdict</th><th>effect</th><th>interval</th><th>n</th>"
            "<th>baseline</th><th>candidate</th><th>adjusted p</th><th>tolerance</th></tr>" + "".join(rows)
            + "</table>")


def _coverage(report: dict[str, Any], plotted: int, window_pairs: int) -> str:
    kind = (report["verdicts"][0]["interval_kind"] if report["verdicts"] else "")
    sample = ("every pair" if report.get("sample_exhaustive", True)
              else f"a uniform random sample of {report.get('sampled_pairs', 0):,} of them")
    return (f"<p><b>Data</b>: {report.get('window_pairs', 0):,} pairs in the window. Rates and sign tests count "
            f"every pair; quantiles and medians use {sample}. Intervals: {html.escape(kind)}, each bound one-sided at "
            f"alpha / (tests run). Plots below show the newest {plotted:,} of {window_pairs:,} pairs.</p>")


def render_html(report: dict[str, Any], pairs: list[dict[str, Any]], window_pairs: int | None = None) -> str:
    """The whole report page (`pairs`: what the plots show, out of `window_pairs` in the window)."""
    stamps = (f"<p><b>Baseline</b>: {html.escape(str(report['baseline_stamp']))}<br>"
              f"<b>Candidate</b>: {html.escape(str(report['candidate_stamp']))}<br>"
              f"<b>Calibration set</b>: {html.escape(report['calibration_set'] or 'not stated')}<br>"
              f"<b>Policy</b>: {html.escape(report['policy'])} (significance {report['significance']}, Bonferroni "
              f"across the categories x metrics tested) · generated {html.escape(report['generated_at'])}<br>"
              f"<b>Paired samples per category</b>: {html.escape(str(report['strata']))}</p>"
              + _coverage(report, len(pairs), len(pairs) if window_pairs is None else window_pairs))
    plots = "".join(f"<img src='{src}'>" for src in (_delta_plot(report["verdicts"]), _length_plot(pairs),
                                                     _ttft_plot(pairs)))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>quantgate regression report</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:3px 8px;font-size:13px}img{display:block;margin:1em 0;max-width:100%}</style></head><body>"
            f"<h1>quantgate regression report</h1>{stamps}{_table(report)}{plots}</body></html>")
