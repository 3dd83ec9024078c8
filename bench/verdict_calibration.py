"""Is the guard honest? False rollbacks on A/A and at the tolerance boundary, and detection of a +3 pp rise.

Run: .venv/bin/python -m bench.verdict_calibration [--aa-runs 1000] [--boundary-runs 200] [--guard-runs 10]
Studies 1-2 draw each look's counts per (category, metric) test directly (the guard's evidence is nothing
but those counts) and apply the guard's own rule, `monitors.analysis.guard.beyond_tolerance`, at its own alpha split:
A/A (no difference) and the boundary (every rate exactly at its tolerance, every sign test at one half).
Study 3 drives the real guard over a SQLite store with simulator pairs judged by the real detectors
(bench/pairs.py). The verdicts' own calibration is `bench.tolerance_calibration`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.pairs import PairSource, injected
from flags.comparisons import ComparisonStore
from flags.store import FlagStore
from monitors.analysis.guard import GUARDED, GuardEvidence, GuardSettings, RolloutGuard, beyond_tolerance, margin
from monitors.analysis.policy import DEFAULT_POLICY
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row

TARGET = "benign-sensitive"
CATEGORIES = ["chat", "code", "json", "math", "multilingual", "benign-sensitive", "long"]
SHARES = [0.25, 0.15, 0.15, 0.15, 0.10, 0.10, 0.10]
LOOKS, PER_LOOK = 20, 1000
_DISCORDANT = 0.01  # each way, for the rates: 2% of pairs disagree on a refusal under A/A


def _probabilities(category: str, metric: str, boundary: bool) -> tuple[float, float]:
    """(P(x = +1), P(x = -1)) of one observation; the rest is 0 for rates."""
    if metric.endswith("_rate"):
        shift = margin(DEFAULT_POLICY, category, metric) if boundary else 0.0
        return _DISCORDANT + shift, _DISCORDANT
    beyond = 0.5 if boundary else 0.2
    return beyond, 1 - beyond


def simulated_run(rng: np.random.Generator, boundary: bool, threshold: int, alpha: float) -> tuple[bool, bool]:
    """One guard run over counts: (rolled back at `threshold`, any failed check at all)."""
    evidence = GuardEvidence(DEFAULT_POLICY.stamp())
    streak, failed_once = 0, False
    for _ in range(LOOKS):
        for category, n in zip(CATEGORIES, rng.multinomial(PER_LOOK, SHARES), strict=True):
            for metric in GUARDED:
                plus, minus = _probabilities(category, metric, boundary)
                up, down, _ = rng.multinomial(n, [plus, minus, max(0.0, 1 - plus - minus)])
                cell = evidence.counts.setdefault((category, metric), {})
                for value, count in ((1.0, up), (-1.0, down), (0.0, n - up - down)):
                    if count:
                        cell[value] = cell.get(value, 0) + int(count)
        failed = bool(beyond_tolerance(evidence, DEFAULT_POLICY, alpha))
        failed_once |= failed
        streak = streak + 1 if failed else 0
        if streak >= threshold:
            return True, True
    return False, failed_once


def simulated_rows(runs: int, boundary: bool, seed: int) -> tuple[str, str]:
    """One study's table row."""
    family = (len(CATEGORIES) + 1) * len(GUARDED)
    alpha = DEFAULT_POLICY.significance / family
    rng = np.random.default_rng(seed)
    results = [simulated_run(rng, boundary, 3, alpha) for _ in range(runs)]
    rollbacks, failed = sum(r for r, _ in results), sum(f for _, f in results)
    name = "boundary (every rate at its tolerance, every share at 1/2)" if boundary else "A/A"
    return (f"guard on {name}: {runs} runs x {LOOKS} looks x {PER_LOOK} pairs, {family} tests at alpha/{family}",
            f"false rollbacks (threshold 3): {rollbacks}/{runs} = {rollbacks / runs:.4f}; runs with any failed "
            f"check: {failed}/{runs} = {failed / runs:.4f} (target <= {DEFAULT_POLICY.significance})")


def guard_run(source: PairSource, checks: int, per_check: int, workdir: Path) -> tuple[str, int, str]:
    """Drive the real guard over a SQLite store; returns (final action, pairs seen, reason)."""
    url = f"sqlite:///{workdir / f'guard-{source.seed}.db'}"
    flags, comparisons = FlagStore(url), ComparisonStore(url)
    flags.ensure_schema()
    guard = RolloutGuard(GuardSettings(enabled=True, threshold=3), DEFAULT_POLICY, flags, comparisons,
                         categories=CATEGORIES)
    record_settings = ComparisonStoreSettings()
    seen = 0
    for check in range(checks):
        # Each pair from its own user (per-request routing): the sticky-user case is `bench.sticky_users`.
        rows = [comparison_row(source.comparison(), f"user-{check}-{i}", ({}, {}), "", record_settings,
                               default_redactor) for i in range(per_check)]
        comparisons.insert_many(rows)
        seen += per_check
        decision = guard.check_once()
        if decision.action == "rollback":
            return "rollback", seen, decision.reason
    return "none", seen, ""


def main() -> None:
    """Print the three studies."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guard-runs", type=int, default=10)
    parser.add_argument("--aa-runs", type=int, default=1000)
    parser.add_argument("--boundary-runs", type=int, default=200)
    args = parser.parse_args()
    console = Console(width=140)
    started = time.perf_counter()
    table = Table(title=f"Guard calibration (policy {DEFAULT_POLICY.stamp()}, alpha {DEFAULT_POLICY.significance})")
    table.add_column("study")
    table.add_column("result")
    for row in (simulated_rows(args.aa_runs, False, 11), simulated_rows(args.boundary_runs, True, 12)):
        table.add_row(*row)
        console.print(f"{row[0]}: {row[1]}")  # as soon as it is known: the real-guard study takes a while
    with tempfile.TemporaryDirectory() as tmp:
        aa = [guard_run(PairSource({}, seed=500 + i), 20, 1000, Path(tmp)) for i in range(args.guard_runs)]
        bad = [guard_run(PairSource(injected(TARGET, 3.0), seed=900 + i), 80, 1000, Path(tmp))
               for i in range(args.guard_runs)]
    table.add_row(f"guard on A/A: {args.guard_runs} runs x 20 checks x 1000 pairs",
                  f"rollbacks: {sum(a == 'rollback' for a, _, _ in aa)}")
    pairs_to_rollback = [n for a, n, _ in bad if a == "rollback"]
    table.add_row(f"guard on +3 pp in {TARGET}: {args.guard_runs} runs, up to 80 checks x 1000 pairs",
                  f"rollbacks: {len(pairs_to_rollback)}/{args.guard_runs}; median total pairs until rollback "
                  f"{statistics.median(pairs_to_rollback) if pairs_to_rollback else 'n/a'}")
    console.print(table)
    example = next((reason for a, _, reason in bad if a == "rollback"), "")
    console.print(f"example audit reason: {example}")
    console.print(f"({time.perf_counter() - started:.0f}s; .venv/bin/python -m bench.verdict_calibration --aa-runs "
                  f"{args.aa_runs} --boundary-runs {args.boundary_runs} --guard-runs {args.guard_runs})")


if __name__ == "__main__":
    main()
