"""False pages of the shipped alert rules on identical arms: exact per-window arithmetic and a simulated month.

The rules in `monitors/assets/prometheus-rules.yaml` compare the arms over a window; on identical arms every alert
that fires is a false page. Two figures per rule, at 5 answers per minute per arm and category:
- per window: the probability that one window's statistic crosses the line, computed exactly for the rate
  alerts (both arms' counts binomial, every outcome pair summed);
- per month: firing episodes counted by simulating the rule as Prometheus evaluates it (a sliding window read
  every `interval`, `for` consecutive evaluations before firing), over many simulated months.

    .venv/bin/python -m bench.alert_false_pages [--months 200]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from scipy import stats

MINUTES_PER_MONTH = 30 * 24 * 60
ANSWERS_PER_MINUTE = 5.0


@dataclass(frozen=True)
class RateRule:
    """A rate alert: candidate minus baseline beyond `margin` by `z` pooled standard errors, over `window_min`,
    with at least `min_answers` per arm in the window, held `for_min` minutes (evaluated every minute)."""

    name: str
    margin: float
    z: float
    window_min: int
    min_answers: int
    for_min: int

    def crossed(self, n: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The condition per evaluation, from both arms' window counts (row 0 candidate, row 1 baseline)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = k[0] / n[0] - k[1] / n[1]
            pooled = (k[0] + k[1]) / (n[0] + n[1])
            se = np.sqrt(pooled * (1 - pooled) * (1 / n[0] + 1 / n[1]))
            return (diff - self.margin > self.z * se) & (n.min(axis=0) >= self.min_answers)


@dataclass(frozen=True)
class NaiveRateRule:
    """The shape of the rules before this arithmetic: the raw difference above `margin`, no standard error."""

    name: str
    margin: float
    window_min: int
    min_candidate_answers: int
    for_min: int

    def crossed(self, n: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The condition per evaluation (row 0 candidate, row 1 baseline)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (k[0] / n[0] - k[1] / n[1] > self.margin) & (n[0] >= self.min_candidate_answers)


def window_exceedance(rule: RateRule, p: float, n: int) -> float:
    """Exact probability that one window of n answers per identical arm (event rate p) crosses the rule's line."""
    x = np.arange(n + 1)
    pmf = stats.binom.pmf(x, n, p)
    cand, base = np.meshgrid(x, x, indexing="ij")
    pooled = (cand + base) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    crossed = (cand - base) / n - rule.margin > rule.z * se
    return float(np.sum(np.outer(pmf, pmf)[crossed]))


def _episodes(condition: np.ndarray, for_steps: int) -> int:
    """Firing episodes: runs of consecutive true evaluations long enough to pass `for` (Prometheus fires at the
    evaluation where the condition has been active for `for`, i.e. on the (for_steps + 1)-th true in a row)."""
    padded = np.concatenate(([False], condition, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.sum(ends - starts > for_steps))


def _rolling(values: np.ndarray, window: int) -> np.ndarray:
    total = np.cumsum(values, axis=-1)
    out = total.copy()
    out[..., window:] = total[..., window:] - total[..., :-window]
    return out[..., window:]  # only full windows: a deployment's first hour is not counted


def simulate_rate_rule(rule: RateRule | NaiveRateRule, p: float, months: int, seed: int = 0) -> float:
    """Firing episodes per month on identical arms (answers Poisson at 5/min per arm, events Bernoulli(p))."""
    rng = np.random.default_rng(seed)
    episodes = 0
    for _ in range(months):
        answers = rng.poisson(ANSWERS_PER_MINUTE, size=(2, MINUTES_PER_MONTH + rule.window_min))
        events = rng.binomial(answers, p)
        n = _rolling(answers, rule.window_min).astype(float)
        k = _rolling(events, rule.window_min).astype(float)
        episodes += _episodes(rule.crossed(n, k), rule.for_min)
    return episodes / months


@dataclass(frozen=True)
class RatioRule:
    """A ratio alert on identical arms: candidate/baseline mean (or p95) outside [low, high] over `window_min`."""

    name: str
    low: float
    high: float
    window_min: int
    min_answers: int
    for_min: int


def simulate_length_rule(rule: RatioRule, months: int, cv: float = 1.0, seed: int = 1) -> float:
    """Mean output length ratio; lengths gamma-distributed with coefficient of variation `cv`."""
    rng = np.random.default_rng(seed)
    shape = 1 / cv**2
    episodes = 0
    for _ in range(months):
        answers = rng.poisson(ANSWERS_PER_MINUTE, size=(2, MINUTES_PER_MONTH + rule.window_min))
        # The sum of k gamma(shape, 1) lengths is gamma(k * shape, 1): one draw per minute.
        tokens = rng.gamma(np.maximum(answers * shape, 1e-12)) * (answers > 0)
        n, total = _rolling(answers, rule.window_min), _rolling(tokens, rule.window_min)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (total[0] / n[0]) / (total[1] / n[1])
        condition = ((ratio < rule.low) | (ratio > rule.high)) & (n.min(axis=0) >= rule.min_answers)
        episodes += _episodes(np.nan_to_num(condition, nan=0).astype(bool), rule.for_min)
    return episodes / months


def simulate_p95_rule(rule: RatioRule, months: int, buckets: tuple[float, ...], sigma: float = 0.5,
                      seed: int = 2) -> float:
    """TTFT p95 ratio from histogram buckets (interpolated as `histogram_quantile`); TTFT lognormal(σ)."""
    rng = np.random.default_rng(seed)
    edges = np.array(buckets)
    cell_p = np.diff(np.concatenate(([0.0], stats.lognorm.cdf(edges, sigma, scale=0.1), [1.0])))
    episodes = 0
    for _ in range(months):
        answers = rng.poisson(ANSWERS_PER_MINUTE, size=(2, MINUTES_PER_MONTH + rule.window_min))
        cells = np.stack([rng.multinomial(a, cell_p) for a in answers.reshape(-1)]).reshape(2, -1, cell_p.size)
        counts = np.moveaxis(_rolling(np.moveaxis(cells, 1, -1), rule.window_min), -1, 1)
        p95 = np.stack([_histogram_p95(counts[arm], edges) for arm in (0, 1)])
        n = counts.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = p95[0] / p95[1]
        condition = ((ratio < rule.low) | (ratio > rule.high)) & (n.min(axis=0) >= rule.min_answers)
        episodes += _episodes(np.nan_to_num(condition, nan=0).astype(bool), rule.for_min)
    return episodes / months


def _histogram_p95(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Prometheus' histogram_quantile(0.95) per row of per-bucket counts (last column: the +Inf bucket)."""
    cumulative = np.cumsum(counts, axis=-1)
    rank = 0.95 * cumulative[:, -1:]
    i = np.minimum(np.argmax(cumulative >= rank, axis=-1), edges.size - 1)
    upper = edges[i]
    lower = np.where(i > 0, edges[np.maximum(i - 1, 0)], 0.0)
    before = np.where(i > 0, np.take_along_axis(cumulative, np.maximum(i - 1, 0)[:, None], -1)[:, 0], 0.0)
    inside = np.take_along_axis(counts, i[:, None], -1)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return lower + (upper - lower) * (rank[:, 0] - before) / inside


def main() -> None:
    from bench.alert_rules import LENGTH_RULE, OLD_REFUSAL_RULE, RATE_RULES, TTFT_RULE
    from monitors.metrics import TTFT_BUCKETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=50)
    args = parser.parse_args()
    window_n = int(ANSWERS_PER_MINUTE * RATE_RULES[0].window_min)
    print(f"identical arms, {ANSWERS_PER_MINUTE:g} answers/min per arm and category, {args.months} simulated months")
    for p in (0.01, 0.05, 0.2, 0.5):
        per_day = simulate_rate_rule(OLD_REFUSAL_RULE, p, max(1, args.months // 10)) / 30
        print(f"  before: {OLD_REFUSAL_RULE.name} at base rate {p:.0%}: {per_day:.2f} false pages per day")
    for rule in RATE_RULES:
        for p in (0.01, 0.05, 0.2, 0.5):
            exact = window_exceedance(rule, p, window_n)
            print(f"  {rule.name} at base rate {p:.0%}: per window {exact:.2e}, "
                  f"{simulate_rate_rule(rule, p, args.months):.3f} false pages per month")
    print(f"  {LENGTH_RULE.name} (CV 1): {simulate_length_rule(LENGTH_RULE, args.months):.3f} per month")
    months = max(1, args.months // 10)
    print(f"  {TTFT_RULE.name} (lognormal σ 0.5, {months} months): "
          f"{simulate_p95_rule(TTFT_RULE, months, TTFT_BUCKETS):.3f} per month")


if __name__ == "__main__":
    main()
