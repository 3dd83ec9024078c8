"""Verdicts as a person reads them (the console and the HTML report): the answer per category first, then each
metric's interval drawn against its tolerance, in words rather than dict reprs."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from monitors.strata_labels import FEEDBACK_OUTCOME

# Worst first: a category reads as its worst verdict.
SEVERITY = ("regression", "inconclusive", "insufficient data", "ok", "improvement")


@dataclass(frozen=True)
class Bar:
    """Positions in percent of the drawing's width: the interval, the estimate, the tolerance and zero."""

    low: float
    high: float
    effect: float
    tolerance: float
    zero: float


@dataclass(frozen=True)
class VerdictRow:
    """One metric of one category, ready to print."""

    metric: str
    source: str  # "shadow pairs" (paired) or "live traffic" (unpaired, per routing stratum)
    verdict: str
    estimate: str
    interval: str
    tolerance: str
    n: int
    bar: Bar
    pairs_needed: int | None
    pairs_link: str
    pairs_needed_chance: float | None = None
    # One user's observations together: the design effect the interval allowed for (1: independent).
    design_effect: float = 1.0

    @property
    def n_text(self) -> str:
        """n, and what it counts as when one user's observations cluster."""
        if self.design_effect <= 1.0:
            return f"{self.n:,}"
        return f"{self.n:,} (as {self.n / self.design_effect:,.0f} independent: design effect {self.design_effect:.1f})"


@dataclass
class CategoryView:
    """One category: its worst verdict and every metric behind it."""

    category: str
    status: str
    rows: list[VerdictRow] = field(default_factory=list)


def tolerance_text(metric: str, tolerance: dict[str, Any]) -> str:
    """The committed tolerance in words."""
    if "max_increase_pp" in tolerance and metric.startswith(FEEDBACK_OUTCOME):
        signal = metric.removeprefix(FEEDBACK_OUTCOME)
        return f"answers getting `{signal}` may rise at most {tolerance['max_increase_pp']:g} pp"
    if "max_increase_pp" in tolerance:
        return f"may rise at most {tolerance['max_increase_pp']:g} pp"
    if "max_increase_pct" in tolerance:
        return f"p95 may rise at most {tolerance['max_increase_pct']:g} %"
    if "min_median" in tolerance:
        return f"median similarity at least {tolerance['min_median']:g}"
    if "min" in tolerance and "max" in tolerance:
        return f"median length ratio within {tolerance['min']:g}–{tolerance['max']:g}"
    return ", ".join(f"{k} {v}" for k, v in tolerance.items())


def _limit(tolerance: dict[str, Any]) -> float:
    """The tolerance on the scale the verdict's interval is on (a difference, a change, or a share of pairs)."""
    if "max_increase_pp" in tolerance:
        return tolerance["max_increase_pp"] / 100
    if "max_increase_pct" in tolerance:
        return tolerance["max_increase_pct"] / 100
    return 0.5  # sign tests: the share of pairs beyond the bound, against one half


def bar(low: float | None, high: float | None, effect: float, limit: float, share: bool) -> Bar:
    """Where to draw an interval against its tolerance (open-ended bounds run to the edge)."""
    if share:
        lo_edge, hi_edge = 0.0, 1.0
    else:
        finite = [abs(x) for x in (low, high, effect) if x is not None and math.isfinite(x)]
        # Capped: a bound a thousand times the tolerance (or 100 %) says no more drawn farther out, and a huge one
        # would overflow the scale.
        span = min(max([limit * 2, *finite]), max(limit * 1000, 1.0), 1e12) * 1.1 or 1.0
        lo_edge, hi_edge = -span, span

    def pos(x: float | None, default: float) -> float:
        value = default if x is None or not math.isfinite(x) else min(max(x, lo_edge), hi_edge)
        return round(100 * (value - lo_edge) / (hi_edge - lo_edge), 2)

    return Bar(pos(low, lo_edge), pos(high, hi_edge), pos(effect, effect), pos(limit, limit), pos(0.0, 0.0))


def bar_svg(row: VerdictRow) -> str:
    """A verdict's bar as inline SVG (the console's page and the HTML report draw the same one): zero and the
    tolerance as lines, the interval as a band, the estimate as a dot."""
    drawn, label = row.bar, f"{row.interval} against {row.tolerance}"
    return (f"<svg class='bar' viewBox='0 0 100 12' preserveAspectRatio='none' role='img' "
            f"aria-label='{html.escape(label, quote=True)}'>"
            f"<line class='zero' x1='{drawn.zero}' x2='{drawn.zero}' y1='0' y2='12' stroke='#8c8f94' "
            f"stroke-width='.4'/><line class='tol' x1='{drawn.tolerance}' x2='{drawn.tolerance}' y1='0' y2='12' "
            f"stroke='#b32d2e' stroke-width='.8' stroke-dasharray='1.5 1'/><rect class='ci' x='{drawn.low}' y='4' "
            f"width='{max(drawn.high - drawn.low, 0.6)}' height='4' fill='#2271b1'/><circle class='est' "
            f"cx='{drawn.effect}' cy='6' r='1.6'/></svg>")


def _pairs_link(category: str, metric: str, tolerance: dict[str, Any]) -> str:
    """The console's list of the pairs behind a verdict (the flipped ones, or those below the similarity bound)."""
    link = f"/console/comparisons?category={category}"
    flips = {"refusal_rate": "refusal", "format_break_rate": "format", "repetition_rate": "repetition"}
    if metric in flips:
        return f"{link}&flip={flips[metric]}"
    if metric == "similarity" and "min_median" in tolerance:
        return f"{link}&sim_max={tolerance['min_median']:g}"
    return link


def _row(v: dict[str, Any], source: str) -> VerdictRow:
    metric, tol = v["metric"], v["tolerance"]
    share = not ("max_increase_pp" in tol or "max_increase_pct" in tol)
    low, high = v["interval"]
    if "max_increase_pp" in tol:
        def fmt(x: Any) -> str:
            return "?" if x is None else f"{x * 100:+.1f} pp"
    elif "max_increase_pct" in tol:
        def fmt(x: Any) -> str:
            return "?" if x is None else f"{x * 100:+.0f} %"
    else:
        def fmt(x: Any) -> str:
            return "?" if x is None else f"{x * 100:.0f} % of pairs"
    return VerdictRow(metric, source, v["verdict"], fmt(v["effect"]), f"[{fmt(low)}, {fmt(high)}]",
                      tolerance_text(metric, tol), int(v["n"]), bar(low, high, v["effect"] or 0.0, _limit(tol), share),
                      v.get("pairs_needed"), _pairs_link(v["category"], metric, tol), v.get("pairs_needed_chance"),
                      v.get("design_effect") or 1.0)


def category_views(report: dict[str, Any]) -> list[CategoryView]:
    """Categories worst first, each with its metrics: the paired shadow verdicts, then the live ones."""
    views: dict[str, CategoryView] = {}
    tagged = [(v, "shadow pairs") for v in report["verdicts"]] + [(v, "live traffic") for v in report["live_verdicts"]]
    for v, source in tagged:
        view = views.setdefault(v["category"], CategoryView(v["category"], "improvement"))
        view.rows.append(_row(v, source))
        if SEVERITY.index(v["verdict"]) < SEVERITY.index(view.status):
            view.status = v["verdict"]
    return sorted(views.values(), key=lambda c: (SEVERITY.index(c.status), c.category))


def stamp_rows(stamp: dict[str, Any]) -> list[tuple[str, str]]:
    """A provenance stamp as label/value rows, empty fields left out."""
    return [(key.replace("_", " "), str(value)) for key, value in stamp.items() if value not in (None, "", {})]


def clustering_warning(report: dict[str, Any]) -> str:
    """The report's warning when pairs cluster by user (empty when they do not): one wording for every surface."""
    clustered = report.get("clustered") or {}
    if not clustered:
        return ""
    counts = "; ".join(f"{name} {pairs:,} sampled pairs from {keys:,} routing keys"
                       for name, (pairs, keys) in clustered.items())
    return (f"Pairs cluster by user ({counts}): pairs of one user are not independent, so each interval is widened "
            "by its design effect (shown per verdict) and rests on fewer independent pairs than it counts.")
