"""The single-look paired test holds its level exactly at every n the validation uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multinomial, norm

from monitors.analysis import exact_paired
from monitors.analysis.exact_paired import corrected_critical, exact_size
from monitors.analysis.paired_rates import PairedCounts, tango_z, tango_z_array
from monitors.analysis.policy import RateTolerance
from monitors.analysis.verdicts import SINGLE, _rate


def _brute_size(n: int, delta0: float, critical: float, psi: float) -> float:
    """P(z >= critical) at δ = δ0 by summing the trinomial (candidate-only, baseline-only, rest) directly."""
    p_w, p_b = (psi + delta0) / 2, (psi - delta0) / 2
    total = 0.0
    for w in range(n + 1):
        for b in range(n + 1 - w):
            if tango_z(w, b, n, delta0) >= critical:
                total += multinomial.pmf([w, b, n - w - b], n, [p_w, p_b, 1 - p_w - p_b])
    return total


def test_the_size_decomposition_matches_a_direct_sum_of_the_trinomial(monkeypatch: pytest.MonkeyPatch) -> None:
    n, delta0, critical = 25, 0.05, 1.5
    for psi in (0.08, 0.3, 0.9):
        monkeypatch.setattr(exact_paired, "_psi_grid", lambda _d, psi=psi: np.array([psi]))
        assert exact_size(n, delta0, critical) == pytest.approx(_brute_size(n, delta0, critical, psi), rel=1e-9)


def test_the_vectorized_statistic_is_tangos() -> None:
    worse, better = np.array([0.0, 3, 40, 7]), np.array([0.0, 9, 2, 7])
    expected = [tango_z(int(w), int(b), 200, 0.01) for w, b in zip(worse, better, strict=True)]
    assert tango_z_array(worse, better, 200, 0.01) == pytest.approx(expected)


@pytest.mark.parametrize("n", [1000, 1500, 2000])
def test_at_the_decision_level_the_normal_critical_value_is_too_small_and_the_corrected_one_holds(
        n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    alpha, margin = 0.05 / 50, 0.01  # one side of one test in a family of 50, the validation's level
    nominal = float(norm.ppf(1 - alpha))
    assert exact_size(n, margin, nominal) > 2 * alpha  # the approximation misses 2-3x too often here
    corrected = corrected_critical(n, margin, alpha)
    # Checked again on a grid of nuisance values five times as dense as the one the search used.
    dense = np.unique(np.concatenate([margin + (1 - margin) * np.linspace(0, 1, 400) ** 3, [1.0]]))
    monkeypatch.setattr(exact_paired, "_psi_grid", lambda _d: dense)
    assert exact_size(n, margin, corrected) <= alpha
    assert exact_size(n, margin, corrected, upper=True) > 0.5 * alpha  # not needlessly conservative


def test_the_single_look_verdict_decides_with_the_exact_test() -> None:
    """A count the normal test would call a regression at 1,000 pairs, but the exact-size test would not."""
    n, alpha, margin = 1000, 0.05 / 50, 0.01
    nominal, corrected = float(norm.ppf(1 - alpha)), corrected_critical(n, margin, alpha)
    worse = next(w for w in range(n) if nominal <= tango_z(w, 0, n, margin) < corrected)
    bounds = _rate(PairedCounts(n, worse, 0), RateTolerance(max_increase_pp=1), alpha, SINGLE, plan=False)
    assert bounds.estimate.low <= margin  # not shown beyond the tolerance at the exact level
    stronger = next(w for w in range(n) if tango_z(w, 0, n, margin) >= corrected)
    bounds = _rate(PairedCounts(n, stronger, 0), RateTolerance(max_increase_pp=1), alpha, SINGLE, plan=False)
    assert bounds.estimate.low > margin
