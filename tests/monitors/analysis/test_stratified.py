"""Mantel-Haenszel risk difference with Sato's variance, against the textbook's worked example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.analysis.stratified import RateStratum, mh_risk_difference, stratified_rates


def test_matches_the_published_worked_example() -> None:
    # UGDP tolbutamide trial stratified by age (Rothman, Greenland & Lash, Modern Epidemiology, 3rd ed.):
    # under 55: 8/106 deaths on tolbutamide vs 5/120 on placebo; 55 and over: 22/98 vs 16/85.
    # Published: RD_MH = 0.035, 90% CI -0.018 to 0.087.
    strata = [RateStratum(8, 106, 5, 120), RateStratum(22, 98, 16, 85)]
    estimate = stratified_rates(strata, 0.10, 0.0)
    assert round(estimate.effect, 3) == 0.035
    assert (round(estimate.low, 3), round(estimate.high, 3)) == (-0.018, 0.087)


@given(st.integers(1, 200), st.integers(1, 200), st.data())
def test_one_stratum_is_the_unpooled_wald_difference(n1: int, n0: int, data: st.DataObject) -> None:
    a, c = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n0))
    difference, variance = mh_risk_difference([RateStratum(a, n1, c, n0)])
    assert difference == pytest.approx(a / n1 - c / n0)
    assert variance == pytest.approx(a * (n1 - a) / n1**3 + c * (n0 - c) / n0**3, abs=1e-12)


def test_one_sided_p_value_matches_the_interval_bound() -> None:
    strata = [RateStratum(40, 1000, 20, 1000), RateStratum(90, 1000, 60, 1000)]
    estimate = stratified_rates(strata, 0.10, 0.0)
    at_low = stratified_rates(strata, 0.10, estimate.low)
    assert at_low.p_value == pytest.approx(0.05, abs=1e-9)


def test_no_event_anywhere_never_gives_a_zero_width_interval() -> None:
    estimate = stratified_rates([RateStratum(0, 500, 0, 500), RateStratum(0, 300, 0, 900)], 0.05, 0.01)
    assert estimate.low < 0 < estimate.high


def test_strata_with_one_arm_only_are_left_out() -> None:
    both = [RateStratum(30, 1000, 10, 1000), RateStratum(50, 2000, 20, 1000)]
    with_empty = stratified_rates([*both, RateStratum(5, 100, 0, 0)], 0.05, 0.0)
    alone = stratified_rates(both, 0.05, 0.0)
    assert (with_empty.effect, with_empty.low, with_empty.n) == (alone.effect, alone.low, alone.n)


def test_a_single_stratum_gets_the_score_interval_of_its_table() -> None:
    from monitors.analysis.stats import unpaired_rates

    single = stratified_rates([RateStratum(12, 300, 4, 280), RateStratum(3, 40, 0, 0)], 0.05, 0.01)
    assert single == unpaired_rates(4, 280, 12, 300, 0.05, margin=0.01)
