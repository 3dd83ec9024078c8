"""Do the verdicts keep their promise at the tolerance itself? Error rates where they matter.

Run: .venv/bin/python -m bench.tolerance_calibration [--runs 200] [--sizes 200 1000 10000]

Pairs are drawn directly from known distributions (numpy), not through the simulator, so the true
effect of every metric is exactly what each study sets; the statistics under test are the real
`monitors.verdicts.build_report` under the default policy. Studies:
1. boundary: every metric exactly at its tolerance (refusal/format/repetition +δ0, half the pairs
   below the similarity minimum and below the length-ratio minimum, TTFT p95 ×1.2): any "regression"
   verdict is a false alarm; its rate per analysis must be at most α.
2. A/A: identical arms: how often each verdict is "ok" (shown within tolerance) or "inconclusive".
3. +3 pp refusals in one category carrying 10% of traffic: share labelled regression / inconclusive /
   ok (the last must be at most α) and blame on other categories, per total sample size.
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

from monitors.policy import DEFAULT_POLICY
from monitors.verdicts import INCONCLUSIVE, OK, REGRESSION, PairSample, build_report

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


def _category_pairs(rng: np.random.Generator, category: str, n: int, arm: Arm) -> list[PairSample]:
    flags = {name: _paired_flags(rng, n, rate, arm.rate_shift.get(name, 0.0)) for name, rate in BASE_RATE.items()}
    checked = category in ("json", "code")
    sims = np.where(rng.random(n) < arm.similarity_below, rng.uniform(0.3, 0.6, n), rng.uniform(0.6, 1.0, n))
    ratios = np.where(rng.random(n) < arm.ratio_below, rng.uniform(0.4, 0.8, n), rng.uniform(0.8, 1.2, n))
    base_ttft = rng.lognormal(np.log(0.1), TAIL_SIGMA if arm.tail else 0.5, n)
    if arm.tail:
        slow = rng.random(n) < 0.08
        cand_ttft = np.where(slow, 3 * base_ttft, 0.9735 * base_ttft)
    else:
        cand_ttft = arm.ttft_scale * rng.lognormal(np.log(0.1), 0.5, n)
    pairs = []
    for i in range(n):
        judged = [{"format_checked": checked, **{k: bool(v[side][i]) for k, v in flags.items()}} for side in (0, 1)]
        pairs.append(PairSample(category, judged[0], judged[1], float(ratios[i]), float(sims[i]),
                                float(base_ttft[i]), float(cand_ttft[i])))
    return pairs


def analysis(seed: int, per_category: dict[str, int], arms: dict[str, Arm]) -> dict[tuple[str, str], str]:
    """One analysis: verdict per (category, metric)."""
    rng = np.random.default_rng(seed)
    samples = [p for c in CATEGORIES for p in _category_pairs(rng, c, per_category[c], arms.get(c, Arm({})))]
    report = build_report(samples, DEFAULT_POLICY, {}, {})
    return {(v.category, v.metric): v.verdict for v in report.verdicts}


def _boundary_arm() -> Arm:
    return Arm(dict(MARGIN), similarity_below=0.5, ratio_below=0.5, ttft_scale=1.2)


def study_rows(runs: int, sizes: list[int]) -> list[tuple[str, str]]:
    """Every study's rows for the table."""
    rows = []
    boundary = {c: _boundary_arm() for c in CATEGORIES}
    for size in sizes:
        per = dict.fromkeys(CATEGORIES, size)
        alarms, by_metric = 0, Counter[str]()
        for i in range(runs):
            flagged = {metric for (_, metric), v in analysis(1_000_000 + i, per, boundary).items() if v == REGRESSION}
            alarms += bool(flagged)
            by_metric.update(flagged)
        rows.append((f"1. boundary, {size} pairs/category, {runs} analyses",
                     f"any regression: {alarms}/{runs} = {alarms / runs:.3f} "
                     f"(target <= {DEFAULT_POLICY.significance}); by metric {dict(by_metric) or '-'}"))
    for size in sizes:
        per = dict.fromkeys(CATEGORIES, size)
        counts: Counter[str] = Counter()
        alarms = 0
        for i in range(runs):
            verdicts = analysis(2_000_000 + i, per, {})
            counts.update(verdicts.values())
            alarms += REGRESSION in verdicts.values()
        total = sum(counts.values())
        rows.append((f"2. A/A, {size} pairs/category", f"verdicts ok {counts[OK] / total:.2f}, inconclusive "
                     f"{counts[INCONCLUSIVE] / total:.2f}; analyses with any regression {alarms}/{runs}"))
    target = "benign-sensitive"
    for total_pairs in (2000, 10_000, 30_000):
        per = {c: max(1, round(total_pairs * s)) for c, s in zip(CATEGORIES, SHARES, strict=True)}
        labels: Counter[str] = Counter()
        blamed = 0
        for i in range(runs):
            verdicts = analysis(3_000_000 + i, per, {target: Arm({"refused": 0.03})})
            labels[verdicts[(target, "refusal_rate")]] += 1
            blamed += any(v == REGRESSION for (c, _), v in verdicts.items() if c != target)
        rows.append((f"3. +3 pp refusals in {target} (10%), {total_pairs} pairs in all",
                     f"regression {labels[REGRESSION] / runs:.2f}, inconclusive {labels[INCONCLUSIVE] / runs:.2f}, "
                     f"ok {labels[OK] / runs:.3f} (must be <= {DEFAULT_POLICY.significance}); other categories "
                     f"blamed in {blamed}/{runs}"))
    per = dict.fromkeys(CATEGORIES, 2000)
    found = sum(analysis(4_000_000 + i, per, {"chat": Arm({}, tail=True)})[("chat", "ttft_p95")] == REGRESSION
                for i in range(runs))
    rows.append(("4. p95 +62% hidden in an 8% tail (chat, 2000 pairs)", f"found in {found}/{runs}"))
    return rows


def main() -> None:
    """Print the studies."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 10_000])
    args = parser.parse_args()
    started = time.perf_counter()
    table = Table(title=f"Tolerance calibration (policy {DEFAULT_POLICY.stamp()}, alpha {DEFAULT_POLICY.significance},"
                        " one fixed-sample analysis per run)")
    table.add_column("study")
    table.add_column("result")
    for study, result in study_rows(args.runs, args.sizes):
        table.add_row(study, result)
    console = Console(width=160)
    console.print(table)
    console.print(f"({time.perf_counter() - started:.0f}s; .venv/bin/python -m bench.tolerance_calibration "
                  f"--runs {args.runs} --sizes {' '.join(map(str, args.sizes))})")


if __name__ == "__main__":
    main()
