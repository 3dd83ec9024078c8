"""The alert rules' false-page arithmetic: the statistic is the pooled two-proportion z-test, and on identical arms
the shipped rules page at most about once a month per deployment where the old rule paged several times a day."""

from __future__ import annotations

import re

import numpy as np
import pytest
from statsmodels.stats.proportion import proportions_ztest

from bench.alert_false_pages import RateRule, simulate_rate_rule, window_exceedance
from bench.alert_rules import OLD_REFUSAL_RULE, RATE_RULES, RULES_FILE

WINDOW_ANSWERS = 300  # 5 answers per minute per arm over the rate alerts' hour


def test_the_rule_statistic_is_the_pooled_two_proportion_z_test() -> None:
    # With no margin the rule's (difference / pooled standard error) is statsmodels' pooled z statistic.
    for cand, base in ((30, 15), (12, 9), (150, 140), (3, 0)):
        z, _ = proportions_ztest([cand, base], [WINDOW_ANSWERS, WINDOW_ANSWERS], alternative="larger")
        pooled = (cand + base) / (2 * WINDOW_ANSWERS)
        ours = (cand - base) / WINDOW_ANSWERS / np.sqrt(pooled * (1 - pooled) * 2 / WINDOW_ANSWERS)
        assert ours == pytest.approx(z)


def test_window_exceedance_is_the_binomial_sum_of_the_outcomes_the_z_test_rejects() -> None:
    rule = RateRule("check", margin=0.0, z=2.0, window_min=60, min_answers=1, for_min=0)
    n, p = 40, 0.3
    from scipy.stats import binom

    total = 0.0
    for cand in range(n + 1):
        for base in range(n + 1):
            if cand + base in (0, 2 * n):
                continue  # no variance: the z statistic is undefined and the rule cannot fire
            z, _ = proportions_ztest([cand, base], [n, n], alternative="larger")
            total += binom.pmf(cand, n, p) * binom.pmf(base, n, p) * (z > 2.0)
    assert window_exceedance(rule, p, n) == pytest.approx(total, rel=1e-9)


def test_the_rules_file_states_the_worst_case_window_probability_of_its_rate_alerts() -> None:
    worst = max(window_exceedance(rule, p, WINDOW_ANSWERS) for rule in RATE_RULES
                for p in np.linspace(0.01, 0.5, 50))
    stated = float(re.search(r"with probability at most ([\d.e-]+)", RULES_FILE.read_text()).group(1))
    assert worst == pytest.approx(stated, rel=0.05)
    assert worst * 720 * 3 < 0.05  # disjoint hours a month, times the sliding-window factor the simulation shows


def test_identical_arms_page_rarely_under_the_shipped_rules_and_daily_under_the_old_one() -> None:
    old_per_month = simulate_rate_rule(OLD_REFUSAL_RULE, 0.05, months=1, seed=7)
    assert old_per_month > 30  # more than one false page a day, in one category
    refusal = RATE_RULES[0]
    new_per_month = simulate_rate_rule(refusal, 0.5, months=12, seed=7)  # worst base rate, a simulated year
    assert new_per_month <= 0.25
