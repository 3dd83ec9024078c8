"""Verdicts at production volume: millions of stored pairs in PostgreSQL, timed through the real endpoint.

Run: .venv/bin/python -m bench.verdicts_scale [--pairs 10000000] [--days 7]
Fills a throwaway PostgreSQL cluster with `--pairs` comparison rows spread evenly over `--days` (generated in
SQL, a +3 pp refusal rise planted in one category), starts a gateway on it, and prints the time of
GET /admin/verdicts for 24 h and the whole window, then the guard's time per look with a minute of new pairs
(20 a second) arriving between looks.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.postgres import postgres_cluster
from bench.replicas import start_replicas, start_simulator, upgraded_store, workdir_stack
from flags.comparisons import ComparisonStore
from flags.store import FlagStore
from monitors.analysis.guard import GuardSettings, RolloutGuard
from monitors.analysis.policy import DEFAULT_POLICY

TOKEN = "verdicts-scale-bench-token"
CATEGORIES = ("chat", "code", "json", "math", "multilingual", "benign-sensitive", "long")

# One row per g: category round-robin, time spread evenly (ids ascend with time, as the writer stores them), each
# from its own user (its key group a multiplicative hash of g, as the writer's hash would spread them),
# refusals at 2% per arm drawn independently, +3 pp for the candidate in benign-sensitive.
_FILL = """
INSERT INTO quantgate_shadow_comparison (
    request_id, created_at, category, routing_key_hash, key_group, primary_variant, baseline_stamp_json,
    candidate_stamp_json,
    baseline_judgement_json, candidate_judgement_json, exact_match, similarity, similarity_head, length_ratio,
    any_flip, baseline_ttft_s, candidate_ttft_s, baseline_total_s, candidate_total_s,
    baseline_refused, candidate_refused, baseline_repetitive, candidate_repetitive,
    baseline_format_broken, candidate_format_broken, format_checked)
SELECT 'bench-' || g, now() - make_interval(secs => :span_s * (1 - g::float8 / :total)),
       (ARRAY['chat','code','json','math','multilingual','benign-sensitive','long'])[1 + g % 7], 'user-' || g,
       (g * 2654435761) % 128, 'baseline',
       '{}', '{}', '{}', '{}', false, 0.6 + 0.4 * random(), 0.9, 0.8 + 0.45 * random(), false,
       0.05 + 0.1 * random(), 0.05 + 0.1 * random(), 1.0, 1.0,
       random() < 0.02, random() < CASE WHEN g % 7 = 5 THEN 0.05 ELSE 0.02 END,
       random() < 0.01, random() < 0.01, random() < 0.01, random() < 0.01, g % 7 = 2
FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS g
"""


def fill(url: str, pairs: int, days: float) -> float:
    """Insert the rows in chunks; returns seconds taken."""
    started = time.perf_counter()
    engine = sa.create_engine(url)
    chunk = 1_000_000
    with engine.begin() as conn:
        for start in range(1, pairs + 1, chunk):
            conn.execute(sa.text(_FILL), {"span_s": days * 86400, "total": pairs, "start": start,
                                          "stop": min(start + chunk - 1, pairs)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE quantgate_shadow_comparison"))
    engine.dispose()
    return time.perf_counter() - started


def time_endpoint(base_url: str, since: str, repeats: int) -> tuple[float, dict]:
    """Median seconds of GET /admin/verdicts?since=..., and the last body."""
    client = httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=600)
    times, body = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get("/admin/verdicts", params={"since": since})
        times.append(time.perf_counter() - started)
        response.raise_for_status()
        body = response.json()
    return statistics.median(times), body


def guard_looks(url: str, looks: int) -> list[float]:
    """Seconds per guard look, a minute of pairs (1,200) arriving before each (after catching up on 24 h)."""
    flags, comparisons = FlagStore(url), ComparisonStore(url)
    guard = RolloutGuard(GuardSettings(enabled=True), DEFAULT_POLICY, flags, comparisons)
    guard.check_once()  # the first look reads the window's backlog, 50,000 rows per look
    assert guard.evidence is not None
    engine = sa.create_engine(url)
    times = []
    for _ in range(looks):
        with engine.begin() as conn:
            top = conn.execute(sa.text("SELECT max(id) FROM quantgate_shadow_comparison")).scalar()
            conn.execute(sa.text(_FILL), {"span_s": 0, "total": 1, "start": top + 1, "stop": top + 1200})
        # This bench times the steady state (a minute of new pairs), not the catching up on the backlog.
        guard.evidence.last_row_id = max(guard.evidence.last_row_id, top)
        started = time.perf_counter()
        guard.check_once()
        times.append(time.perf_counter() - started)
    engine.dispose()
    comparisons.close()
    return times


def main() -> None:
    """Fill, serve, time."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with postgres_cluster() as url, tempfile.TemporaryDirectory() as tmp:
        upgraded_store(url)
        print(f"filling {args.pairs:,} pairs over {args.days:g} days: {fill(url, args.pairs, args.days):.0f} s",
              flush=True)
        stack = workdir_stack(Path(tmp))
        try:
            sim = start_simulator(stack)
            gateway = start_replicas(stack, url, sim, sim, TOKEN, count=1, workers=1)[0]
            for since in ("24h", f"{args.days:g}d"):
                seconds, body = time_endpoint(gateway.url, since, args.repeats)
                refusal = next(v for v in body["verdicts"]
                               if v["category"] == "benign-sensitive" and v["metric"] == "refusal_rate")
                print(f"GET /admin/verdicts?since={since}: median {seconds:.2f} s over {args.repeats} "
                      f"(target < 2 s); {body['window_pairs']:,} pairs counted, value sample "
                      f"{body['sampled_pairs']:,}; benign-sensitive refusal {refusal['verdict']} "
                      f"{refusal['effect'] * 100:+.2f} pp [{refusal['interval'][0] * 100:+.2f}, "
                      f"{refusal['interval'][1] * 100:+.2f}]", flush=True)
        finally:
            stack.stop()
        looks = guard_looks(url, 5)
        print(f"guard: {statistics.median(looks) * 1000:.0f} ms per look (median of {len(looks)}, 1,200 new pairs "
              f"each)")
    print(f"(.venv/bin/python -m bench.verdicts_scale --pairs {args.pairs} --days {args.days:g})")


if __name__ == "__main__":
    main()
