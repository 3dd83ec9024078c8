"""The difference of two rates across strata: Mantel-Haenszel risk difference with Sato's variance.

Live traffic is compared per routing stratum (the candidate's traffic share when a request was routed), so a
ramp from 10% to 50% while the base rate moves cannot show up as a difference between the arms (the
confounding of pooled counts). The Mantel-Haenszel weights n1 n0 / N combine the strata; Sato's variance
(Sato 1989, Biometrics 45:1323-1324) is consistent both for many sparse strata and for few large ones, and
for one stratum it is the usual unpooled (Wald) variance. Worked example: Rothman, Greenland & Lash,
Modern Epidemiology (3rd ed.), the UGDP tolbutamide trial by age: RD_MH 0.035, 90% CI -0.018 to 0.087.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from monitors.analysis.stats import Estimate, unpaired_rates


@dataclass(frozen=True, slots=True)
class RateStratum:
    """One stratum: events and totals of the candidate (exposed) and the baseline."""

    candidate_events: int
    candidate_n: int
    baseline_events: int
    baseline_n: int


def mh_risk_difference(strata: list[RateStratum]) -> tuple[float, float]:
    """(candidate minus baseline rate, its variance) over the strata where both arms were seen."""
    usable = [s for s in strata if s.candidate_n and s.baseline_n]
    weight = rd_sum = p_sum = q_sum = 0.0
    for s in usable:
        a, n1, c, n0 = s.candidate_events, s.candidate_n, s.baseline_events, s.baseline_n
        total = n1 + n0
        weight += n1 * n0 / total
        rd_sum += (a * n0 - c * n1) / total
        p_sum += (n1 * n1 * c - n0 * n0 * a + n1 * n0 * (n0 - n1) / 2) / (total * total)
        q_sum += (a * (n0 - c) + c * (n1 - a)) / (2 * total)
    if weight == 0:
        return 0.0, math.inf
    difference = rd_sum / weight
    return difference, (difference * p_sum + q_sum) / (weight * weight)


def stratified_rates(strata: list[RateStratum], alpha: float, margin: float) -> Estimate:
    """Interval (two-sided at alpha) and one-sided test of H0: difference <= margin, across strata.

    One stratum is one 2x2 table: the Miettinen-Nurminen score interval and the Farrington-Manning test at
    the margin (better than Wald at small counts). With no event in any stratum Sato's variance is 0; the
    pooled counts then carry no confounding (both rates are 0 everywhere) and the same score interval is used.
    """
    usable = [s for s in strata if s.candidate_n and s.baseline_n]
    a, n1 = sum(s.candidate_events for s in usable), sum(s.candidate_n for s in usable)
    c, n0 = sum(s.baseline_events for s in usable), sum(s.baseline_n for s in usable)
    difference, variance = mh_risk_difference(usable)
    if len(usable) <= 1 or not variance > 0 or not math.isfinite(variance):
        return unpaired_rates(c, n0, a, n1, alpha, margin=margin)
    se = math.sqrt(variance)
    z = float(norm.ppf(1 - alpha / 2))
    p_value = float(norm.sf((difference - margin) / se))
    low, high = max(-1.0, difference - z * se), min(1.0, difference + z * se)
    return Estimate(min(n0, n1), difference, low, high, p_value, c / n0, a / n1)
