"""Sticky users: do the verdicts hold their level when one user's answers are not independent?

Run: .venv/bin/python -m bench.sticky_users [--runs 200] [--days 60] [--every-hours 6] [--users 3000]

The model (stated, not fitted): `users` users each send a lognormal number of requests over the analysis (median 3,
log-sd 1.2: most send a few, some send hundreds), at uniformly random times. 97% are light users whose baseline
refuses 2% of their requests; 3% are heavy refusers at 40%. Both arms see the same prompt, and the same borderline
prompts tip both (one uniform draw per request: the baseline refuses below p, the candidate below q), so a pair
disagrees only where q and p differ.
- A/A: the arms are the same on average, but not for every user: each heavy user's candidate refuses 20 pp more or
  20 pp less (a coin per user), light users are untouched. This is where sticky routing bites: one heavy user's
  pairs all disagree the same way.
- boundary: the candidate refuses exactly the tolerated +1 pp more over all requests, all of it in the heavy users.
- +3 pp: likewise three times the tolerance.
Per-request reference: the same population of requests, each from a user of its own (the A/A coin drawn per
request): what the verdicts would see if one person's requests were independent draws.

Paired verdicts read the anchored, growing analysis every `every-hours` hours (what `/admin/verdicts` shows by
default), through `build_report` with the same window the database gives: counts per key group, and the sampled
pairs' keys. Live verdicts read the same population routed to an arm per user (half each, sticky), through
`unpaired_verdicts`. One test (refusal rate, tolerance 1 pp) at α = 0.05, so each side of the interval is at 0.025.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from flags.bucketing import LIVE_KEY_GROUPS
from flags.comparisons import KEY_GROUPS
from monitors.analysis.clustering import GroupedCounts, design_effect
from monitors.analysis.live import LiveCounts, unpaired_verdicts
from monitors.analysis.paired_rates import PairedCounts
from monitors.analysis.policy import MetricTolerances, RateTolerance, RegressionPolicy
from monitors.analysis.verdicts import ANYTIME, IMPROVEMENT, OK, REGRESSION, build_report
from monitors.analysis.window_data import CategoryWindow, ShareCount, WindowData

POLICY = RegressionPolicy(name="sticky-users", significance=0.05, min_paired_samples=100,
                          defaults=MetricTolerances(refusal_rate=RateTolerance(max_increase_pp=1.0)))
TOLERANCE = 0.01
HEAVY_SHARE, LIGHT_RATE, HEAVY_RATE, AA_SWING = 0.03, 0.02, 0.40, 0.20
SCENARIOS = {"A/A": 0.0, "boundary +1 pp": 0.01, "+3 pp": 0.03}


@dataclass(frozen=True)
class Requests:
    """One simulated analysis: per request, when (days), whose (user), and what each arm did."""

    day: np.ndarray
    user: np.ndarray
    baseline_refused: np.ndarray
    candidate_refused: np.ndarray


def simulate(rng: np.random.Generator, users: int, days: float, effect: float, sticky: bool = True) -> Requests:
    """Requests of one population under a scenario (`effect`: 0 for A/A, else the request-weighted rise)."""
    heavy = rng.random(users) < HEAVY_SHARE
    counts = np.maximum(1, np.round(rng.lognormal(np.log(3), 1.2, users))).astype(int)
    user = np.repeat(np.arange(users), counts)
    base = np.where(heavy, HEAVY_RATE, LIGHT_RATE)[user]
    heavy_request = heavy[user]
    if effect == 0:
        # A coin per heavy user; without sticky users (every request its own user) a coin per request.
        coin = rng.choice([-1.0, 1.0], users)[user] if sticky else rng.choice([-1.0, 1.0], user.size)
        shift = np.where(heavy_request, AA_SWING * coin, 0.0)
    else:
        # All of the rise in the heavy users' requests, scaled so that the request-weighted rise is `effect`.
        shift = np.where(heavy_request, effect * user.size / max(1, int(heavy_request.sum())), 0.0)
    draw = rng.random(user.size)
    cand = np.clip(base + shift, 0, 1)
    # Per-request routing: the same requests, each from a user of its own (drawn like the population's requests).
    who = user if sticky else np.arange(user.size) + users
    return Requests(rng.random(user.size) * days, who, draw < base, draw < cand)


def _groups(user: np.ndarray, groups: int = KEY_GROUPS) -> np.ndarray:
    # A fixed hash of the key, as `flags.comparisons.key_group` (stored pairs) and `flags.bucketing.live_key_group`
    # (live answers) do.
    return (user.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)).astype(np.int64) % groups


def paired_window(requests: Requests, until_day: float, adjust: bool = True) -> WindowData:
    """What the database gives the verdicts for the pairs up to `until_day` (every pair in the sample)."""
    seen = requests.day <= until_day
    user, worse = requests.user[seen], requests.candidate_refused[seen] & ~requests.baseline_refused[seen]
    better = requests.baseline_refused[seen] & ~requests.candidate_refused[seen]
    both = requests.baseline_refused[seen] & requests.candidate_refused[seen]
    group = _groups(user)
    grouped = GroupedCounts(np.bincount(group, worse, KEY_GROUPS), np.bincount(group, better, KEY_GROUPS),
                            np.bincount(group, minlength=KEY_GROUPS).astype(float))
    n = int(user.size)
    counts = PairedCounts(n, int(worse.sum()), int(better.sum()), int(both.sum()))
    window = CategoryWindow("chat", n, {"refusal_rate": counts}, ShareCount(0, 0), ShareCount(0, 0),
                            ShareCount(0, 0), 0, sample_pairs=n, sample_keys=int(np.unique(user).size))
    window.groups = {"refusal_rate": grouped}
    clustered = adjust and window.clustered
    window.design_effects = {"refusal_rate": design_effect(grouped) if clustered else 1.0}
    return WindowData({"chat": window}, n, n, exhaustive=True)


def live_counts(requests: Requests, until_day: float, arm_of_user: np.ndarray, adjust: bool = True) -> LiveCounts:
    """Live answer counters when each user is routed to one arm (sticky, half each: `arm_of_user`), with the
    per-key-group counts the gateway keeps (none when not `adjust`: the old, independent reading)."""
    seen = requests.day <= until_day
    user = requests.user[seen]
    on_candidate = arm_of_user[user]
    refused = np.where(on_candidate, requests.candidate_refused[seen], requests.baseline_refused[seen])
    group = _groups(user, LIVE_KEY_GROUPS)
    live = LiveCounts()
    for variant, mask in (("candidate", on_candidate), ("baseline", ~on_candidate)):
        live.counts[(variant, "chat", "50")] = {"judged": float(mask.sum()), "refused": float(refused[mask].sum())}
        if adjust:
            judged = np.bincount(group[mask], minlength=LIVE_KEY_GROUPS)
            hits = np.bincount(group[mask], refused[mask], LIVE_KEY_GROUPS)
            live.groups[(variant, "chat")] = {g: {"judged": float(judged[g]), "refused": float(hits[g])}
                                              for g in range(LIVE_KEY_GROUPS) if judged[g]}
    return live


@dataclass
class RunOutcome:
    """What one analysis showed over all its looks."""

    regression: bool = False
    improvement: bool = False
    ok: bool = False
    first_regression_n: int | None = None
    # Pairs (answers, live) the final look said would settle it, when it was still undecided.
    needed_at_end: int | None = None


def _record(outcome: RunOutcome, verdict: str, n: int) -> None:
    if verdict == REGRESSION:
        outcome.regression = True
        outcome.first_regression_n = outcome.first_regression_n or n
    outcome.improvement |= verdict == IMPROVEMENT
    outcome.ok |= verdict == OK


def one_run(rng: np.random.Generator, effect: float, days: float, every_hours: float, users: int,
            kind: str) -> RunOutcome:
    """One analysis read every few hours: kind is paired (adjusted or not) or live, sticky or per request."""
    requests = simulate(rng, users, days, effect, sticky="per-request" not in kind)
    arm = rng.random(int(requests.user.max()) + 1) < 0.5
    outcome = RunOutcome()
    looks = np.arange(every_hours / 24, days + 1e-9, every_hours / 24)
    for look in looks:
        if kind.startswith("live"):
            live = live_counts(requests, look, arm, adjust="unadjusted" not in kind)
            verdict = unpaired_verdicts(live, POLICY, family=1, looks=ANYTIME)[0]
        else:
            window = paired_window(requests, look, adjust="unadjusted" not in kind)
            report = build_report(window, POLICY, {}, {}, looks=ANYTIME, pairs_needed=look == looks[-1], family=1)
            verdict = report.verdicts[0]
            outcome.needed_at_end = verdict.pairs_needed
        _record(outcome, verdict.verdict, verdict.n)
    return outcome


KINDS = ("paired", "paired, unadjusted", "paired, per-request", "live", "live, unadjusted", "live, per-request")


def _median(values: list[int]) -> str:
    return f"{values[len(values) // 2]:,}" if values else "-"


def _table(results: dict[tuple[str, str], list[RunOutcome]], runs: int) -> Table:
    table = Table(title=f"Sticky users: share of {runs} runs with each verdict at any look (α = 0.05, 1 test)")
    for column in ("analysis", "A/A false regression", "A/A false improvement", "boundary false regression",
                   "+3 pp ever 'ok'", "+3 pp power", "+3 pp median n at first regression",
                   "+3 pp median pairs to settle (undecided runs)"):
        table.add_column(column)
    for kind in KINDS:
        aa, edge, big = (results[(kind, s)] for s in SCENARIOS)
        found = sorted(o.first_regression_n for o in big if o.first_regression_n)
        needed = sorted(o.needed_at_end for o in big if o.needed_at_end and not o.regression)
        table.add_row(kind, f"{np.mean([o.regression for o in aa]):.3f}", f"{np.mean([o.improvement for o in aa]):.3f}",
                      f"{np.mean([o.regression for o in edge]):.3f}", f"{np.mean([o.ok for o in big]):.3f}",
                      f"{np.mean([o.regression for o in big]):.3f}",
                      _median(found), _median(needed))
    return table


def main() -> None:
    """Print the calibration table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--days", type=float, default=60.0)
    parser.add_argument("--every-hours", type=float, default=6.0)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    jobs = [(kind, name, run) for kind in KINDS for name in SCENARIOS for run in range(args.runs)]
    with ProcessPoolExecutor() as pool:
        outcomes = pool.map(_job, [(args, kind, name, run) for kind, name, run in jobs], chunksize=4)
        results: dict[tuple[str, str], list[RunOutcome]] = {}
        for (kind, name, _), outcome in zip(jobs, outcomes, strict=True):
            results.setdefault((kind, name), []).append(outcome)
    Console(width=160).print(_table(results, args.runs))


def _job(spec: tuple[argparse.Namespace, str, str, int]) -> RunOutcome:
    args, kind, name, run = spec
    # Each (scenario, run) draws the same population for every analysis kind: the kinds differ only in how they read it.
    rng = np.random.default_rng([args.seed, list(SCENARIOS).index(name), run])
    return one_run(rng, SCENARIOS[name], args.days, args.every_hours, args.users, kind)


if __name__ == "__main__":
    main()
