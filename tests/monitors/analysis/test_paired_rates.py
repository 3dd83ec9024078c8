"""Tango's score test and interval for paired rates, checked against a published example and statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar

from monitors.analysis.paired_rates import PairedCounts, p_above, p_below, tango_interval, tango_z


def test_interval_matches_the_published_worked_example() -> None:
    # Cavo et al. (2012), n12 = 6, n21 = 16, N = 161; Fagerland, Lydersen & Laake, "Statistical Analysis of
    # Contingency Tables" (2017), ch. 8: Tango score CI -0.0621 (95% CI -0.1240 to -0.0054).
    low, high = tango_interval(6, 16, 161, 0.05)
    assert (round(low, 4), round(high, 4)) == (-0.1240, -0.0054)


@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 200))
def test_at_zero_margin_the_score_statistic_is_mcnemars(worse: int, better: int, concordant: int) -> None:
    if worse + better == 0:
        return
    n = worse + better + concordant
    statistic = mcnemar([[concordant, worse], [better, 0]], exact=False, correction=False).statistic
    assert tango_z(worse, better, n, 0.0) ** 2 == pytest.approx(statistic)


@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 400))
def test_interval_contains_the_estimate_and_never_collapses(worse: int, better: int, concordant: int) -> None:
    n = worse + better + concordant
    low, high = tango_interval(worse, better, n, 0.05)
    assert -1 <= low < high <= 1 and low <= (worse - better) / n <= high


def test_one_sided_tests_agree_with_the_interval_bounds() -> None:
    low, high = tango_interval(40, 20, 1000, 0.10)  # each bound one-sided at 5 %
    assert p_above(40, 20, 1000, low) == pytest.approx(0.05, abs=1e-6)
    assert p_below(40, 20, 1000, high) == pytest.approx(0.05, abs=1e-6)


def test_pairs_needed_grows_as_the_effect_nears_the_margin() -> None:
    near, far = PairedCounts(500, 12, 8), PairedCounts(500, 8, 8)
    assert near.pairs_needed(0.01, 0.05) > far.pairs_needed(0.01, 0.05) >= 500  # type: ignore[operator]
    assert PairedCounts(500, 10, 5).pairs_needed(0.01, 0.05) is None  # exactly on the margin


@example(0, 7, 7, 7)  # statsmodels' upper bound came out at 1.0000000000000002
@given(st.integers(0, 50), st.integers(1, 50), st.integers(0, 50), st.integers(1, 50))
def test_live_rate_interval_exists_for_every_table(base_hits: int, base_n: int, cand_hits: int, cand_n: int) -> None:
    from monitors.analysis.stats import unpaired_rates

    base_hits, cand_hits = min(base_hits, base_n), min(cand_hits, cand_n)
    est = unpaired_rates(base_hits, base_n, cand_hits, cand_n, 0.05, margin=0.01)
    assert -1 <= est.low <= est.effect <= est.high <= 1 and est.low < est.high and 0 <= est.p_value <= 1


def test_quantile_interval_uses_the_tabled_order_statistics() -> None:
    import numpy as np

    from monitors.analysis.stats import quantile_interval

    # n = 20: the 95% interval of the median runs from the 6th to the 15th order statistic (Conover, table A3).
    assert quantile_interval(np.arange(1.0, 21.0), 0.5, 0.05) == (6.0, 15.0)
    # Too few values for the level: the upper end is open, never a made-up bound.
    assert quantile_interval(np.arange(1.0, 11.0), 0.95, 0.01)[1] == float("inf")


def test_histogram_p95_interval_contains_the_exact_one() -> None:
    import numpy as np

    from monitors.analysis.live import _bucket_quantile_interval
    from monitors.analysis.stats import quantile_interval

    rng = np.random.default_rng(4)
    bounds = np.array([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, np.inf])
    values = rng.lognormal(np.log(0.1), 0.8, 3000)
    counts = np.histogram(values, bins=np.concatenate(([0.0], bounds)))[0].astype(float)
    exact = quantile_interval(values, 0.95, 0.01)
    bucketed = _bucket_quantile_interval(bounds, counts, 0.95, 0.01)
    assert bucketed[0] <= exact[0] and exact[1] <= bucketed[1]


def test_pairs_needed_is_right_when_no_pair_disagrees() -> None:
    """400 pairs without a disagreement, 1 pp tolerance: still inconclusive, so more pairs are needed, not 400."""
    from monitors.analysis.paired_rates import PairedCounts, tango_interval

    alpha = 0.05 / 30
    counts = PairedCounts(400, 0, 0)
    assert tango_interval(0, 0, 400, 2 * alpha)[1] > 0.01  # not yet shown within the tolerance
    needed = counts.pairs_needed(0.01, alpha)
    assert needed is not None and needed > 400
    # At that many pairs with none disagreeing, the interval is inside the tolerance.
    assert tango_interval(0, 0, needed, 2 * alpha)[1] < 0.01


@pytest.mark.parametrize(("worse", "better"), [(8, 2), (4, 4)])
def test_pairs_needed_settles_about_as_often_as_it_says(worse: int, better: int) -> None:
    """Simulated at the figure, from the observed proportions: the test settles in about 80% of runs."""
    from monitors.analysis.paired_rates import PairedCounts, tango_interval

    alpha, margin = 0.05 / 30, 0.01
    counts = PairedCounts(200, worse, better)
    needed = counts.pairs_needed(margin, alpha)
    assert needed is not None
    rng = np.random.default_rng(20261206)
    draws = rng.multinomial(needed, [worse / 200, better / 200, 1 - (worse + better) / 200], size=400)
    settled = 0
    for w, b, _ in draws:
        low, high = tango_interval(int(w), int(b), needed, 2 * alpha)
        settled += low > margin if counts.effect > margin else high < margin
    assert 0.72 <= settled / 400 <= 0.88, settled / 400
