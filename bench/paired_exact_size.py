"""Exact size of the single-look paired-rate test at the level a validation decides at, before and after correction.

Run: .venv/bin/python -m bench.paired_exact_size [--family 50] [--margin-pp 1] [--n 200 500 1000 1500 2000]
For each n: the normal critical value of one side at alpha / family, its exact size at the tolerance (the largest
rejection probability over the nuisance discordant share, `monitors.analysis.exact_paired.exact_size`), the
critical value the validation now uses and its exact size; for the upper (regression) and lower (within tolerance)
tests. A size above alpha / family is a test that says "regression" more often than it claims.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table
from scipy.stats import norm

from monitors.analysis.exact_paired import corrected_critical, exact_size


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--family", type=int, default=50)
    parser.add_argument("--margin-pp", type=float, default=1.0)
    parser.add_argument("--n", type=int, nargs="+", default=[200, 500, 1000, 1500, 2000])
    args = parser.parse_args()
    level, margin = args.alpha / args.family, args.margin_pp / 100
    nominal = float(norm.ppf(1 - level))
    table = Table(title=f"One side at alpha {args.alpha} / {args.family} = {level:.2g}, tolerance "
                        f"{args.margin_pp:g} pp (z: normal critical value, z*: corrected)")
    for column in ("n", "test", "z", "size", "× level", "z*", "size*", "× level*", "s"):
        table.add_column(column, justify="right")
    for n in args.n:
        for upper, name in ((True, "regr."), (False, "within")):
            started = time.perf_counter()
            before = exact_size(n, margin, nominal, upper)
            corrected = corrected_critical(n, margin, level, upper)
            after = exact_size(n, margin, corrected, upper)
            table.add_row(str(n), name, f"{nominal:.3f}", f"{before:.5f}", f"{before / level:.2f}",
                          f"{corrected:.3f}", f"{after:.5f}", f"{after / level:.2f}",
                          f"{time.perf_counter() - started:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
