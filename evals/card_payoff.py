"""The card's second half: the trade table (did it improve?) and the token-level early warning between them."""

from __future__ import annotations

from typing import Any

Section = tuple[str, list[str], list[list[str]]]


def _figure(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "USD":
        return f"${value:.3g}"
    if unit == "tokens":
        return f"{value:,.0f} tokens"
    return f"{value:.3g} {unit}"


def payoff_section(performance: dict[str, Any] | None) -> list[Section]:
    """"Did it improve?": baseline, candidate, ratio with interval, target, verdict per figure and concurrency."""
    if not performance:
        return []
    rows = [["figure", "streams", "baseline", "candidate", "candidate / baseline [interval]", "target", "verdict"]]
    for r in performance["rows"]:
        met = {True: " (met)", False: " (missed)", None: " (not shown)"}[r["target_met"]] if r["target"] else ""
        low, high = r["interval"]
        interval = f"{r['ratio']:.2f}x" + ("" if low == high else f" [{low:.2f}, {high:.2f}]")
        rows.append([r["label"], "-" if r["concurrency"] is None else str(r["concurrency"]),
                     _figure(r["baseline"], r["unit"]), _figure(r["candidate"], r["unit"]), interval,
                     (r["target"] or "-") + met, r["verdict"]])
    kernels = performance["kernels"]
    paragraphs = [f"Kernels: baseline {kernels['baseline'] or 'not recorded'}, candidate "
                  f"{kernels['candidate'] or 'not recorded'}; hardware {performance['hardware']['candidate'] or '-'}.",
                  f"Intervals at {performance['level']:.2%} each (Bonferroni over {performance['family']}); the "
                  f"targets {'gate the rollout' if performance['gates'] else 'warn, they do not gate'}: "
                  f"{performance['outcome']}."]
    methods = sorted({f"{r['label']}: {r['method']}" for r in performance["rows"]})
    paragraphs.append("How each figure is compared: " + "; ".join(methods) + ".")
    return [("Did it improve? Speed, memory and cost next to the baseline", paragraphs, rows)]


def _shown(figure: dict[str, float], fmt: str) -> str:
    return f"{figure['value']:{fmt}} [{figure['low']:{fmt}}, {figure['high']:{fmt}}]"


def early_warning_section(warning: dict[str, Any] | None) -> list[Section]:
    """Token-level agreement with the baseline per category: an early warning, not a verdict."""
    if not warning:
        return []
    rows = [["category", "tokens", "perplexity ratio", "mean KL", "p99 KL", "top-1 agreement"]]
    for c in warning["categories"]:
        rows.append([c["category"], str(c["tokens"]), _shown(c["perplexity_ratio"], ".3f"),
                     _shown(c["kl_mean"], ".3f"), _shown(c["kl_p99"], ".2f"), _shown(c["top1_agreement"], ".2f")])
    return [("Early warning: token-level agreement with the baseline", [warning["method"]], rows)]
