"""The disclosure card of a validation: what a reader needs to trust a quantization claim.

First the answer in two halves (did it break? did it improve?), then the six parts: task, model, metric,
baseline, calibration, and the per-category results with their intervals and sample sizes; then the token-level
early warning and the trade table (speed, memory, cost next to the baseline). There is deliberately no overall
score: an average hides the one slice that got worse, and a speed-up does not pay for a regression.
"""

from __future__ import annotations

import html
import math
from typing import Any

from evals.card_payoff import early_warning_section, payoff_section
from monitors.analysis.metric_definitions import RATES

MODEL_FIELDS = ("model", "revision", "quantization", "method", "scheme", "bits", "group_size", "tool",
                "runtime_version", "hardware", "kernel", "compute_dtype", "source_package")
PERCENT_METRICS = tuple(metric.name for metric in RATES)


def _pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value * 100:.1f} %"


def _num(value: Any, metric: str) -> str:
    if value is None:
        return "-"
    return _pct(value) if metric in PERCENT_METRICS else f"{value:.3g}"


def _difference(verdict: dict[str, Any]) -> str:
    low, high = verdict["interval"]
    metric = verdict["metric"]
    if metric in PERCENT_METRICS:
        def pp(x: Any) -> str:
            return "?" if x is None else f"{x * 100:+.1f}"
        return f"{pp(verdict['effect'])} pp [{pp(low)}, {pp(high)}]"
    return f"{verdict['effect']:.3g} [{_num(low, metric)}, {_num(high, metric)}]"


def _tolerance(tolerance: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in tolerance.items())


def sections(summary: dict[str, Any], result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The card as (heading, paragraphs, table rows with a header row first); rendered as Markdown or HTML."""
    stamps, suite, report = result["stamps"], result["suite"], result["report"]
    run = result["run"]
    task = [f"Suite {suite['version']} (sha256 {suite['sha256']}), "
            + ", ".join(f"{c}: {n} items" for c, n in sorted(suite["counts"].items())) + ".",
            f"Gated categories: {', '.join(result['gated'])}; reported only: "
            f"{', '.join(sorted(set(suite['counts']) - set(result['gated']))) or 'none'}."]
    model_rows = [["", "baseline", "candidate"]] + [
        [name, str(stamps["baseline"].get(name) or "-"), str(stamps["candidate"].get(name) or "-")]
        for name in MODEL_FIELDS]
    identity = summary["identity"]
    model_rows.append(["live identity (root, runtime)",
                       *(f"{(identity.get(v) or {}).get('root')}, {(identity.get(v) or {}).get('runtime_version')}"
                         for v in ("baseline", "candidate"))])
    metrics = sorted({(v["metric"], v["method"], _tolerance(v["tolerance"])) for v in report["verdicts"]})
    metric_rows = [["metric", "tolerance (committed)", "interval"]] + [[m, t, method] for m, method, t in metrics]
    baseline = [f"The candidate is compared with the baseline {stamps['baseline'].get('model', '?')} "
                f"({stamps['baseline'].get('quantization', '?')}) on the same items with the same sampling "
                f"({run['sampling']}), answers paired by item; concurrency {run['concurrency']} per backend. "
                f"Policy {summary['policy']}; one planned look, Bonferroni over "
                f"{sum(v['verdict'] != 'insufficient data' for v in report['verdicts'])} tests at "
                f"alpha {report['significance']}. {_payoff_basis(result)}"]
    calibration = [f"Calibration set {stamps['candidate'].get('calibration_set') or '-'} "
                   f"({stamps['candidate'].get('calibration_samples') or '?'} samples, sha256 "
                   f"{stamps['candidate'].get('calibration_sha256') or '-'}), built from the calibration split, "
                   "disjoint from the evaluation prompts."]
    return [("The answer", answer_lines(summary, result), []),
            ("Task", task, []), ("Model", [], model_rows), ("Metric", [], metric_rows),
            ("Baseline", baseline, []), ("Calibration", calibration, []),
            ("Did it break? Results per category", _outcome_lines(summary, result), _result_rows(result)),
            *early_warning_section(result.get("early_warning")), *payoff_section(result.get("performance"))]


def answer_lines(summary: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Both halves in two lines, before any table: the quality verdict, and whether it is faster, smaller,
    cheaper (and how sure), with each figure it is worse on named."""
    quality = result.get("quality_outcome") or summary["outcome"]
    broke = (f"Did it break? **{quality}**" + (f" (regressed: {', '.join(summary['failing'])})"
                                               if summary["failing"] else "")
             + (f" (not yet decided: {', '.join(summary['inconclusive'])})" if summary["inconclusive"] else ""))
    lines = [broke + "."]
    warning = result.get("early_warning") or {}
    if warning.get("exceeded"):
        effect = "this fails the validation" if warning["gates"] else "a warning: it does not gate"
        lines.append(f"Early warning: mean KL shown above the ceiling {warning['max_kl_mean']:g} in "
                     f"{', '.join(warning['exceeded'])} ({effect}).")
    performance = result.get("performance")
    if not performance:
        return [*lines, "Did it improve? Not measured in this validation (the performance stage was off)."]
    lines.append(f"Did it improve? {performance['headline']}.")
    lines += [f"Warning: {callout}." for callout in performance["callouts"]]
    return lines


def _payoff_basis(result: dict[str, Any]) -> str:
    performance = result.get("performance")
    if not performance:
        return "Speed, memory and cost were not measured in this validation."
    profile = performance["profile"]
    return (f"Speed on the batch profile: concurrency {profile['concurrency']}, {profile['rounds']} rounds of "
            f"{profile['requests']} requests per arm after {profile['warmup']} warm-up, "
            f"{profile['output_tokens']} output tokens forced; {performance['method']}.")


def _outcome_lines(summary: dict[str, Any], result: dict[str, Any]) -> list[str]:
    lines = [f"Outcome: **{summary['outcome']}**" + (f"; regressed: {', '.join(summary['failing'])}"
                                                      if summary["failing"] else "")
             + (f"; inconclusive: {', '.join(summary['inconclusive'])}" if summary["inconclusive"] else "") + "."]
    lines.append("Per category: " + ", ".join(f"{c} {o}" for c, o in sorted(result["categories"].items())) + ".")
    if result.get("pins_to_ship"):
        lines.append("Pins that would ship the candidate only where it passed: "
                     + ", ".join(f"{c}=baseline" for c in result["pins_to_ship"]) + ".")
    return lines


def _result_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = [["category", "metric", "baseline", "candidate", "difference [interval]", "n", "verdict"]]
    for v in result["report"]["verdicts"]:
        if v["metric"] in PERCENT_METRICS:
            arms = [_num(v["baseline_value"], v["metric"]), _num(v["candidate_value"], v["metric"])]
            difference = _difference(v)
        else:
            # Pair metrics have no per-arm value: the median of the pairs, and the share beyond the bound.
            low, high = v["interval"]
            arms = ["-", f"median {v['candidate_value']:.3g}"]
            difference = f"{_pct(v['effect'])} of pairs beyond [{_pct(low)}, {_pct(high)}]"
        rows.append([v["category"], v["metric"], *arms, difference, str(v["n"]), v["verdict"]])
    return rows


def card_markdown(summary: dict[str, Any], result: dict[str, Any]) -> str:
    """The card as Markdown."""
    out = [f"# Validation #{summary['id']}: {summary['outcome']}", "",
           f"Run by {summary['actor']} at {summary['created_at']}, {summary['wall_s']:.0f} s.", ""]
    for heading, paragraphs, rows in sections(summary, result):
        out += [f"## {heading}", ""]
        for paragraph in paragraphs:
            out += [paragraph, ""]
        if rows:
            out.append("| " + " | ".join(rows[0]) + " |")
            out.append("|" + "---|" * len(rows[0]))
            out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
            out.append("")
    return "\n".join(out)


def card_html(summary: dict[str, Any], result: dict[str, Any]) -> str:
    """The card as a standalone HTML page (no scripts, no external assets)."""
    body = [f"<h1>Validation #{summary['id']}: {html.escape(summary['outcome'])}</h1>",
            f"<p>Run by {html.escape(summary['actor'])} at {html.escape(summary['created_at'])}, "
            f"{summary['wall_s']:.0f} s.</p>"]
    for heading, paragraphs, rows in sections(summary, result):
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body += [f"<p>{html.escape(p).replace('**', '')}</p>" for p in paragraphs]
        if rows:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:.2em .5em;text-align:left}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Validation #{summary['id']}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
