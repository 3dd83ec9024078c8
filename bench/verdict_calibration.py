"""Are the verdicts honest? A/A false-regression rate, detection of a +3 pp refusal rise, and the guard.

Run: .venv/bin/python -m bench.verdict_calibration [--aa-runs 200] [--aa-pairs 2000] [--detect-runs 100]
Pairs come from the simulator's generator and the real detectors (bench/pairs.py); verdicts use the
default policy (all metrics, Holm across categories x metrics, alpha 0.05).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import monitors.stats
from bench.pairs import PairSource, injected
from flags.store import FlagStore
from monitors.guard import GuardSettings, RolloutGuard
from monitors.policy import DEFAULT_POLICY
from monitors.verdicts import build_report
from shadow.records import ComparisonStore
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row

TARGET = "benign-sensitive"


def aa_false_regressions(runs: int, pairs: int) -> tuple[int, int]:
    """(analyses with any regression verdict, analyses) on identical arms."""
    flagged = 0
    for run in range(runs):
        report = build_report(PairSource({}, seed=run).samples(pairs), DEFAULT_POLICY, {}, {})
        flagged += bool(report.regressions())
    return flagged, runs


def detection(runs: int, step: int, max_pairs: int) -> tuple[list[int], int, int]:
    """Per run: pairs in the target category at first detection; also runs that blamed another category."""
    needed: list[int] = []
    blamed_elsewhere = 0
    for run in range(runs):
        source = PairSource(injected(TARGET, 3.0), seed=10_000 + run)
        samples = []
        while len(samples) < max_pairs:
            samples += source.samples(step)
            regressions = build_report(samples, DEFAULT_POLICY, {}, {}).regressions()
            if any(v.category != TARGET for v in regressions):
                blamed_elsewhere += 1
            if any(v.category == TARGET and v.metric == "refusal_rate" for v in regressions):
                needed.append(sum(s.category == TARGET for s in samples))
                break
    return needed, runs, blamed_elsewhere


def guard_run(source: PairSource, checks: int, per_check: int, workdir: Path) -> tuple[str, int, str]:
    """Drive the real guard over a SQLite store; returns (final action, pairs seen, reason)."""
    url = f"sqlite:///{workdir / f'guard-{source.seed}.db'}"
    flags, comparisons = FlagStore(url), ComparisonStore(url)
    flags.ensure_schema()
    guard = RolloutGuard(GuardSettings(enabled=True, threshold=3), DEFAULT_POLICY, flags, comparisons)
    record_settings = ComparisonStoreSettings()
    seen = 0
    for _ in range(checks):
        rows = [comparison_row(source.comparison(), "h", ({}, {}), "", record_settings, default_redactor)
                for _ in range(per_check)]
        comparisons.insert_many(rows)
        seen += per_check
        decision = guard.check_once()
        if decision.action == "rollback":
            return "rollback", seen, decision.reason
    return "none", seen, ""


def main() -> None:
    """Print the three studies."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aa-runs", type=int, default=200)
    parser.add_argument("--aa-pairs", type=int, default=2000)
    parser.add_argument("--detect-runs", type=int, default=100)
    parser.add_argument("--detect-step", type=int, default=1000)
    parser.add_argument("--detect-max", type=int, default=30_000)
    parser.add_argument("--guard-runs", type=int, default=10)
    args = parser.parse_args()
    # Bootstrap resamples only shape the printed intervals, never a verdict (p-values come from exact
    # and rank tests), so fewer resamples keep 200 analyses in minutes without changing the figures.
    monitors.stats._RESAMPLES = 199  # noqa: SLF001
    console = Console(width=140)
    started = time.perf_counter()
    flagged, runs = aa_false_regressions(args.aa_runs, args.aa_pairs)
    needed, det_runs, blamed = detection(args.detect_runs, args.detect_step, args.detect_max)
    table = Table(title=f"Verdict calibration (policy {DEFAULT_POLICY.stamp()}, alpha {DEFAULT_POLICY.significance})")
    table.add_column("study")
    table.add_column("result")
    table.add_row(f"A/A: {runs} analyses of {args.aa_pairs} pairs", f"{flagged} with any regression verdict = "
                  f"{flagged / runs:.3f} false-regression rate (target <= {DEFAULT_POLICY.significance})")
    table.add_row(f"+3 pp refusals in {TARGET} (10% of traffic), {det_runs} runs, checked every "
                  f"{args.detect_step} pairs up to {args.detect_max}",
                  f"detected in {len(needed)}/{det_runs} = {len(needed) / det_runs:.2f}; median paired samples in "
                  f"{TARGET} at detection {statistics.median(needed) if needed else 'n/a'} "
                  f"(total pairs ~{(statistics.median(needed) if needed else 0) * 10:.0f}); "
                  f"analyses blaming another category: {blamed}")
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
    console.print(f"({time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
