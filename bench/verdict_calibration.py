"""Is the guard honest? Rollbacks on A/A and on a +3 pp refusal rise, over simulator pairs.

Run: .venv/bin/python -m bench.verdict_calibration [--guard-runs 10]
Pairs come from the simulator's generator and the real detectors (bench/pairs.py). The verdicts' own
calibration at the tolerance boundary is `bench.tolerance_calibration`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.pairs import PairSource, injected
from flags.store import FlagStore
from monitors.guard import GuardSettings, RolloutGuard
from monitors.policy import DEFAULT_POLICY
from shadow.records import ComparisonStore
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row

TARGET = "benign-sensitive"


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
    parser.add_argument("--guard-runs", type=int, default=10)
    args = parser.parse_args()
    console = Console(width=140)
    started = time.perf_counter()
    table = Table(title=f"Guard calibration (policy {DEFAULT_POLICY.stamp()}, alpha {DEFAULT_POLICY.significance})")
    table.add_column("study")
    table.add_column("result")
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
