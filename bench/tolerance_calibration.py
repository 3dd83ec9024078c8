"""Do the verdicts keep their promise at the tolerance itself? Error rates where they matter, with peeking.

Run: .venv/bin/python -m bench.tolerance_calibration [--runs 200] [--sizes 200 1000 10000] [--looks 5]

Pairs are drawn directly from known distributions (numpy), not through the simulator, so the true
effect of every metric is exactly what each study sets; the statistics under test are the real
`monitors.analysis.verdicts.build_report` under the default policy, on windows built like the database builds
them (counts per category, values for quantiles). Each analysis is looked at `--looks` times as its pairs
accrue (evenly spaced, the last at the full size), as an operator reloading `/admin/verdicts` would; a
verdict counts as given if any look gave it. Studies:
1. boundary: every metric exactly at its tolerance (refusal/format/repetition +δ0, half the pairs
   below the similarity minimum and below the length-ratio minimum, TTFT p95 x1.2): any "regression"
   verdict at any look is a false alarm; its rate per analysis must be at most α. Shown for the
   anytime-valid intervals the report uses, and for single-look intervals read at every look.
2. A/A: identical arms: how often each verdict is "ok" (shown within tolerance) or "inconclusive" at the
   last look.
3. +3 pp refusals in one category carrying 10% of traffic: share labelled regression / inconclusive /
   ok at the last look (ok must be at most α), pairs until the first look that says regression, and
   blame on other categories.
4. a p95 regression hidden in the tail (2.65% faster body, 3x slower on 8% of requests).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from monitors.analysis.paired_rates import PairedCounts
from monitors.analysis.policy import DEFAULT_POLICY
from monitors.analysis.verdicts import ANYTIME, INCONCLUSIVE, OK, REGRESSION, SINGLE, build_report
from monitors.analysis.window_data import RATE_FIELDS, SAMPLE_ONLY_RATES, CategoryWindow, ShareCount, WindowData

CATEGORIES = ("chat", "code", "json", "math", "multilingual", "benign-sensitive", "long")
SHARES = (0.25, 0.15, 0.15, 0.15, 0.10, 0.10, 0.10)
BASE_RATE = {"refused": 0.02, "format_broken": 0.01, "repetitive": 0.02}
MARGIN = {"refused": 0.01, "format_broken": 0.005, "repetitive": 0.01}  # the default policy's tolerances
# Spread of the body in the tail study: with 8% of requests 3x slower and the rest 2.65% faster, the true p95
# change is +62% (the statistical review's case), while the typical pair got faster.
TAIL_SIGMA = 0.31


@dataclass
class Arm:
    """What the candidate does differently in one category (defaults: same as the baseline)."""

    rate_shift: dict[str, float]
    similarity_below: float = 0.1  # share of pairs under the 0.6 minimum
    ratio_below: float = 0.05  # share of pairs under the 0.8 minimum
    ttft_scale: float = 1.0
    tail: bool = False


def _paired_flags(rng: np.random.Generator, n: int, base: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Correlated paired events: the candidate repeats the baseline half the time, else draws its own."""
    b = rng.random(n) < base
    own = rng.random(n) < (base + shift - 0.5 * base) / 0.5
    return b, np.where(rng.random(n) < 0.5, b, own)


@dataclass
class CategoryDraw:
    """One category's pairs as arrays, in arrival order."""

    flags: dict[str, tuple[np.ndarray, np.ndarray]]
    checked: bool
    similarity: np.ndarray
    ratio: np.ndarray
    base_ttft: np.ndarray
    cand_ttft: np.ndarray


def _draw(rng: np.random.Generator, category: str, n: int, arm: Arm) -> CategoryDraw:
    flags = {name: _paired_flags(rng, n, rate, arm.rate_shift.get(name, 0.0)) for name, rate in BASE_RATE.items()}
    sims = np.where(rng.random(n) < arm.similarity_below, rng.uniform(0.3, 0.6, n), rng.uniform(0.6, 1.0, n))
    ratios = np.where(rng.random(n) < arm.ratio_below, rng.uniform(0.4, 0.8, n), rng.uniform(0.8, 1.2, n))
    base_ttft = rng.lognormal(np.log(0.1), TAIL_SIGMA if arm.tail else 0.5, n)
    if arm.tail:
        cand_ttft = np.where(rng.random(n) < 0.08, 3 * base_ttft, 0.9735 * base_ttft)
    else:
        cand_ttft = arm.ttft_scale * rng.lognormal(np.log(0.1), 0.5, n)
    return CategoryDraw(flags, category in ("json", "code"), sims, ratios, base_ttft, cand_ttft)


def _cells(base: np.ndarray, cand: np.ndarray) -> tuple[int, int, int]:
    return int(np.sum(cand & ~base)), int(np.sum(base & ~cand)), int(np.sum(base & cand))


def _window_of(category: str, draw: CategoryDraw, k: int) -> CategoryWindow:
    """The first k pairs of a category, as the database would report them."""
    rates = {}
    for metric, name in RATE_FIELDS.items():
        if metric in SAMPLE_ONLY_RATES:  # the database has no counts for these
            continue
        base, cand = draw.flags[name]
        n = k if (metric != "format_break_rate" or draw.checked) else 0
        rates[metric] = PairedCounts(n, *_cells(base[:n], cand[:n]))
    ratio = draw.ratio[:k]
    return CategoryWindow(category, k, rates, ShareCount(int(np.sum(draw.similarity[:k] < 0.6)), k),
                          ShareCount(int(np.sum(ratio < 0.8)), k), ShareCount(int(np.sum(ratio > 1.25)), k), k,
                          draw.base_ttft[:k], draw.cand_ttft[:k], draw.similarity[:k], ratio)


def analysis(seed: int, per_category: dict[str, int], arms: dict[str, Arm], looks: int,
             mode: str = ANYTIME) -> list[dict[tuple[str, str], str]]:
    """One analysis looked at `looks` times: the verdict per (category, metric) at each look."""
    rng = np.random.default_rng(seed)
    draws = {c: _draw(rng, c, per_category[c], arms.get(c, Arm({}))) for c in CATEGORIES}
    seen = []
    for look in range(1, looks + 1):
        categories = {c: _window_of(c, d, max(1, per_category[c] * look // looks)) for c, d in draws.items()}
        total = sum(w.pairs for w in categories.values())
        report = build_report(WindowData(categories, total, total, True), DEFAULT_POLICY, {}, {}, mode,
                              pairs_needed=False)
        seen.append({(v.category, v.metric): v.verdict for v in report.verdicts})
    return seen


def _boundary_arm() -> Arm:
    return Arm(dict(MARGIN), similarity_below=0.5, ratio_below=0.5, ttft_scale=1.2)


def _any(looks: list[dict[tuple[str, str], str]], verdict: str) -> set[tuple[str, str]]:
    return {key for look in looks for key, v in look.items() if v == verdict}


def boundary_rows(runs: int, sizes: list[int], looks: int) -> list[tuple[str, str]]:
    """Study 1: false regressions at the tolerance, with the report's intervals and with single-look ones."""
    rows = []
    boundary = {c: _boundary_arm() for c in CATEGORIES}
    for size in sizes:
        per = dict.fromkeys(CATEGORIES, size)
        for mode in (ANYTIME, SINGLE):
            alarms, by_metric = 0, Counter[str]()
            for i in range(runs):
                flagged = {metric for _, metric in _any(analysis(1_000_000 + i, per, boundary, looks, mode),
                                                        REGRESSION)}
                alarms += bool(flagged)
                by_metric.update(flagged)
            label = "anytime-valid (the report)" if mode == ANYTIME else "single-look intervals, peeked at"
            rows.append((f"1. boundary, {size} pairs/category, {runs} analyses x {looks} looks, {label}",
                         f"any regression: {alarms}/{runs} = {alarms / runs:.3f} (target <= "
                         f"{DEFAULT_POLICY.significance}); by metric {dict(by_metric) or '-'}"))
    return rows


def aa_rows(runs: int, sizes: list[int], looks: int) -> list[tuple[str, str]]:
    """Study 2: identical arms, what the last look says."""
    rows = []
    for size in sizes:
        per = dict.fromkeys(CATEGORIES, size)
        counts: Counter[str] = Counter()
        alarms = 0
        for i in range(runs):
            seen = analysis(2_000_000 + i, per, {}, looks)
            counts.update(seen[-1].values())
            alarms += bool(_any(seen, REGRESSION))
        total = sum(counts.values())
        rows.append((f"2. A/A, {size} pairs/category", f"last look: ok {counts[OK] / total:.2f}, inconclusive "
                     f"{counts[INCONCLUSIVE] / total:.2f}; analyses with a regression at any look {alarms}/{runs}"))
    return rows


def detection_rows(runs: int, looks: int) -> list[tuple[str, str]]:
    """Study 3: +3 pp refusals in one category carrying 10% of the traffic."""
    target, rows = "benign-sensitive", []
    for total_pairs in (2000, 10_000, 30_000):
        per = {c: max(1, round(total_pairs * s)) for c, s in zip(CATEGORIES, SHARES, strict=True)}
        labels: Counter[str] = Counter()
        blamed, detected_at = 0, []
        for i in range(runs):
            seen = analysis(3_000_000 + i, per, {target: Arm({"refused": 0.03})}, looks)
            labels[seen[-1][(target, "refusal_rate")]] += 1
            first = next((j for j, look in enumerate(seen, 1) if look[(target, "refusal_rate")] == REGRESSION), None)
            if first is not None:
                detected_at.append(total_pairs * first // looks)
            blamed += any(c != target for c, _ in _any(seen, REGRESSION))
        median = f"{int(np.median(detected_at)):,}" if detected_at else "n/a"
        rows.append((f"3. +3 pp refusals in {target} (10%), {total_pairs} pairs in all, {looks} looks",
                     f"last look: regression {labels[REGRESSION] / runs:.2f}, inconclusive "
                     f"{labels[INCONCLUSIVE] / runs:.2f}, ok {labels[OK] / runs:.3f} (must be <= "
                     f"{DEFAULT_POLICY.significance}); median pairs to first detection {median}; other "
                     f"categories blamed in {blamed}/{runs}"))
    return rows


def study_rows(runs: int, sizes: list[int], looks: int) -> list[tuple[str, str]]:
    """Every study's rows for the table."""
    rows = boundary_rows(runs, sizes, looks) + aa_rows(runs, sizes, looks) + detection_rows(runs, looks)
    for size in (2000, 5000):
        per = dict.fromkeys(CATEGORIES, size)
        found = sum(analysis(4_000_000 + i, per, {"chat": Arm({}, tail=True)}, 1)[-1][("chat", "ttft_p95")]
                    == REGRESSION for i in range(runs))
        rows.append((f"4. p95 +62% hidden in an 8% tail (chat, {size} pairs)", f"found in {found}/{runs}"))
    return rows


def main() -> None:
    """Print the studies."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 10_000])
    parser.add_argument("--looks", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    table = Table(title=f"Tolerance calibration (policy {DEFAULT_POLICY.stamp()}, alpha {DEFAULT_POLICY.significance},"
                        f" {args.looks} looks per analysis)")
    table.add_column("study")
    table.add_column("result")
    for study, result in study_rows(args.runs, args.sizes, args.looks):
        table.add_row(study, result)
    console = Console(width=160)
    console.print(table)
    console.print(f"({time.perf_counter() - started:.0f}s; .venv/bin/python -m bench.tolerance_calibration "
                  f"--runs {args.runs} --sizes {' '.join(map(str, args.sizes))} --looks {args.looks})")


if __name__ == "__main__":
    main()
