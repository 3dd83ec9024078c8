"""Flag propagation across replicas: two gateway processes x two workers on one PostgreSQL.

Run: .venv/bin/python -m bench.propagation [--flips 50] [--poll 0.25]
Each flip goes to replica 0's admin API; the clock stops when every worker of every replica reports
the new flag-set version (min over workers, from each replica's aggregated /metrics).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.postgres import postgres_cluster
from bench.replicas import start_replicas, start_simulator, upgraded_store, wait_until_all, workdir_stack

TOKEN = "propagation-bench-token"  # the gateway refuses admin tokens under 16 characters


def main() -> None:
    """Start PostgreSQL, a simulator and two replicas; flip rollback N times; print p50/p99."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flips", type=int, default=50)
    parser.add_argument("--poll", type=float, default=0.25, help="flag poll interval of the workers (s)")
    args = parser.parse_args()
    with postgres_cluster() as url, tempfile.TemporaryDirectory() as tmp:
        upgraded_store(url)
        stack = workdir_stack(Path(tmp))
        try:
            sim = start_simulator(stack)
            replicas = start_replicas(stack, url, sim, sim, TOKEN, count=2, workers=2, poll_s=args.poll)
            admin = httpx.Client(base_url=replicas[0].url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10)
            times = []
            for i in range(args.flips):
                response = admin.put("/admin/flags", json={"rollback": i % 2 == 0, "reason": f"propagation {i}"})
                response.raise_for_status()
                times.append(wait_until_all(replicas, response.json()["version"]))
            times.sort()
            p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
            print(f"{args.flips} rollback flips, 2 replicas x 2 workers on PostgreSQL, poll every {args.poll}s: "
                  f"propagation p50 {statistics.median(times) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                  f"max {times[-1] * 1000:.0f} ms (target p99 < 1000 ms)")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
