"""Confidence sequences: the counted capital is the betting product, and coverage holds at every look."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from monitors.analysis import confidence_sequences as cs
from monitors.analysis.paired_rates import tango_interval


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 60), st.floats(-0.9, 0.9))
def test_capital_from_counts_is_the_averaged_product_of_the_bets_in_any_order(
        worse: int, better: int, ties: int, m: float) -> None:
    sequence = np.random.default_rng(worse * 7 + better).permutation([1.0] * worse + [-1.0] * better + [0.0] * ties)
    # Reference: each bet's wealth multiplied out observation by observation, then averaged (Waudby-Smith &
    # Ramdas 2023, eq. 5 with constant bets; their "diversified Kelly" mixture). A bet that could lose more than
    # the stake at this m (some x in [-1, 1] with 1 + bet (x - m) < 0) is not placed: its wealth counts as 0.
    wealth = [math.prod(1 + bet * (x - m) for x in sequence) if bet * (1 + m) < 1 else 0.0 for bet in cs.BETS]
    expected = math.log(sum(wealth) / len(wealth))
    assert cs.log_capital(cs.paired_tally(worse, better, worse + better + ties), m) == pytest.approx(expected, abs=1e-9)


def test_the_sequence_covers_the_true_mean_at_every_look_at_least_as_often_as_promised() -> None:
    # 200 streams of paired differences at δ = +1 pp (3% discordant one way, 2% the other), looked at every 250
    # pairs up to 5,000: the share of streams whose interval ever misses δ must stay below alpha.
    rng, alpha, misses = np.random.default_rng(20261126), 0.1, 0
    for _ in range(200):
        draws = rng.choice([1.0, -1.0, 0.0], size=5000, p=[0.03, 0.02, 0.95])
        for n in range(250, 5001, 250):
            head = draws[:n]
            low, high = cs.interval(cs.paired_tally(int(np.sum(head == 1)), int(np.sum(head == -1)), n), alpha / 2)
            if not low <= 0.01 <= high:
                misses += 1
                break
    assert misses / 200 <= alpha


@given(st.integers(0, 40), st.integers(0, 40), st.integers(50, 2000))
def test_the_sequence_is_never_narrower_than_the_single_look_interval(worse: int, better: int, ties: int) -> None:
    n = worse + better + ties
    low, high = cs.interval(cs.paired_tally(worse, better, n), 0.025)
    fixed_low, fixed_high = tango_interval(worse, better, n, 0.05)
    assert low <= fixed_low + 1e-6 and fixed_high - 1e-6 <= high
    assert low < (worse - better) / n < high or n == 0


def test_quantile_ranks_widen_the_binomial_ranks_and_cover_at_every_look() -> None:
    for n in (20, 200, 2000):
        low, high = cs.quantile_ranks(n, 0.95, 0.025)
        # Binomial ranks of the single-look interval (scipy's quantile_test uses the same construction).
        assert low <= int(sps.binom.ppf(0.025, n, 0.95)) and high >= int(sps.binom.ppf(0.975, n, 0.95)) + 1
    rng, misses = np.random.default_rng(7), 0
    true_p95 = float(sps.lognorm(0.5).ppf(0.95))
    for _ in range(100):
        values = rng.lognormal(0.0, 0.5, 4000)
        for n in range(200, 4001, 400):
            low, high = cs.quantile_bounds(values[:n], 0.95, 0.05)
            if not low <= true_p95 <= high:
                misses += 1
                break
    assert misses / 100 <= 0.1


def test_settling_n_is_where_the_sequence_first_excludes_the_margin() -> None:
    tally = cs.paired_tally(30, 10, 1000)  # +2 pp observed, margin +1 pp: not yet settled at 1,000
    needed = cs.settling_n(tally, 0.01, 0.005)
    assert needed is not None and needed > 1000
    scaled = cs.paired_tally(round(30 * needed / 1000), round(10 * needed / 1000), needed)
    assert cs.lower_bound(scaled, 0.005) > 0.01
    smaller = int(needed * 0.9)
    assert cs.lower_bound(cs.paired_tally(round(30 * smaller / 1000), round(10 * smaller / 1000), smaller),
                          0.005) <= 0.01
    assert cs.settling_n(cs.paired_tally(10, 0, 1000), 0.01, 0.005) is None  # sitting on the margin


def test_live_capital_from_counts_is_the_product_over_the_answers() -> None:
    strata = [cs.ArmStratum(0.1, 3, 40, 5, 300), cs.ArmStratum(0.5, 6, 120, 4, 110)]
    delta = 0.004
    answers = []  # (observation in [-1, 1], its null mean) for every answer, in a shuffled order
    for s in strata:
        c = s.scale
        answers += [(1 / (s.share * c), delta / c)] * s.candidate_events
        answers += [(-1 / ((1 - s.share) * c), delta / c)] * s.baseline_events
        answers += [(0.0, delta / c)] * (s.candidate_n + s.baseline_n - s.candidate_events - s.baseline_events)
    order = np.random.default_rng(3).permutation(len(answers))
    top_null = max(m for _, m in answers)
    wealth = [math.prod(1 + bet * (answers[i][0] - answers[i][1]) for i in order) if bet * (1 + top_null) < 1
              else 0.0 for bet in cs.BETS]
    assert cs.ipw_log_capital(strata, delta) == pytest.approx(math.log(sum(wealth) / len(wealth)), abs=1e-9)


def test_live_sequence_covers_the_difference_through_a_ramp_at_every_look() -> None:
    # 10% rollout at a 1% base rate, then 50% at 4%; the candidate is +1 pp worse throughout. Looked at after every
    # 1,000 answers: the share of runs whose interval ever misses +1 pp must stay below alpha.
    rng, alpha, misses = np.random.default_rng(11), 0.1, 0
    for _ in range(100):
        counts = {0.1: [0, 0, 0, 0], 0.5: [0, 0, 0, 0]}
        for look in range(10):
            share, base = (0.1, 0.01) if look < 5 else (0.5, 0.04)
            to_candidate = int(rng.binomial(1000, share))
            cell = counts[share]
            cell[0] += int(rng.binomial(to_candidate, base + 0.01))
            cell[1] += to_candidate
            cell[2] += int(rng.binomial(1000 - to_candidate, base))
            cell[3] += 1000 - to_candidate
            low, high = cs.ipw_interval([cs.ArmStratum(s, *c) for s, c in counts.items()], alpha / 2)
            if not low <= 0.01 <= high:
                misses += 1
                break
    assert misses / 100 <= alpha
