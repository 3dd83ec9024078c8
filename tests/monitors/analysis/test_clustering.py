"""One user's pairs are not independent: the design effect, checked against statsmodels, and verdicts that hold
their level on a clustered population where the independent reading does not."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bench.sticky_users import POLICY, live_counts, paired_window, simulate
from flags.bucketing import live_key_group
from monitors.analysis.clustering import (
    GroupedCounts,
    cluster_robust_variance,
    design_effect,
    effective_ranks,
    independent_variance,
)
from monitors.analysis.confidence_sequences import quantile_ranks
from monitors.analysis.live import read_live_counts, unpaired_verdicts
from monitors.analysis.policy import LatencyTolerance, SimilarityTolerance
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import ANYTIME, IMPROVEMENT, REGRESSION, SINGLE, build_report, report_from_samples
from monitors.metrics import GatewayMetrics, RequestRecord
from monitors.quality.detectors.answer import AnswerJudgement
from monitors.quality.metrics import QualityMetrics


def _pairs(rng: np.random.Generator, clusters: int, shared: float) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: its cluster and its difference in {-1, 0, 1}; `shared` of each cluster's pairs copy its sign."""
    sizes = rng.integers(1, 30, clusters)
    cluster = np.repeat(np.arange(clusters), sizes)
    own = rng.choice([-1.0, 0.0, 1.0], cluster.size, p=[0.1, 0.75, 0.15])
    sign = rng.choice([-1.0, 1.0], clusters)[cluster]
    d = np.where(rng.random(cluster.size) < shared, sign, own)
    return cluster, d


def _grouped(cluster: np.ndarray, d: np.ndarray) -> GroupedCounts:
    return GroupedCounts(np.bincount(cluster, d > 0).astype(float), np.bincount(cluster, d < 0).astype(float),
                         np.bincount(cluster).astype(float))


@pytest.mark.parametrize("shared", [0.0, 0.5])
def test_the_cluster_robust_variance_is_statsmodels_cluster_covariance(shared: float) -> None:
    cluster, d = _pairs(np.random.default_rng(3), 60, shared)
    fit = sm.OLS(d, np.ones((d.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    assert cluster_robust_variance(_grouped(cluster, d)) == pytest.approx(float(fit.bse[0]) ** 2, rel=1e-9)
    # The independent-pairs variance is the plain (biased, 1/n) variance of the mean.
    assert independent_variance(_grouped(cluster, d)) == pytest.approx(float(np.var(d)) / d.size, rel=1e-9)


def test_the_design_effect_is_about_one_for_independent_pairs_and_the_cluster_size_when_a_cluster_agrees() -> None:
    rng = np.random.default_rng(5)
    effects = [design_effect(_grouped(*_pairs(rng, 400, 0.0))) for _ in range(20)]
    assert 1.0 <= np.mean(effects) < 1.15 and min(effects) >= 1.0  # never below 1: independent pairs keep their power
    # Clusters of ten pairs that always disagree the same way: ten pairs carry one pair's information.
    cluster = np.repeat(np.arange(200), 10)
    d = rng.choice([-1.0, 1.0], 200)[cluster]
    assert design_effect(_grouped(cluster, d)) == pytest.approx(10 * 200 / 199, rel=1e-6)


def test_too_few_groups_count_each_group_as_one_observation() -> None:
    grouped = GroupedCounts(np.array([30.0, 0.0, 5.0]), np.array([0.0, 2.0, 5.0]), np.array([100.0, 50.0, 50.0]))
    assert design_effect(grouped) == pytest.approx(200 / 3)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(20, 3000), effect=st.floats(1.0, 40.0), alpha=st.sampled_from([0.025, 0.001]))
def test_clustered_ranks_reduce_to_the_plain_ones_and_only_widen(n: int, effect: float, alpha: float) -> None:
    def ranks(m: int) -> tuple[int, int]:
        return quantile_ranks(m, 0.95, alpha)

    low, high = effective_ranks(n, effect, ranks)
    plain = ranks(n)
    assert effective_ranks(n, 1.0, ranks) == plain
    assert 0 <= low <= plain[0] and plain[1] <= high <= n + 1


def _false_rate(reading: str, adjust: bool, runs: int = 120) -> float:
    """Share of A/A populations (sticky users, the benchmark's model) read as a regression or an improvement at the
    end of the analysis, at 5% for the one test."""
    false = 0
    for run in range(runs):
        rng = np.random.default_rng([11, run])
        requests = simulate(rng, users=3000, days=60, effect=0.0)
        if reading == "live":
            arm = rng.random(int(requests.user.max()) + 1) < 0.5
            verdict = unpaired_verdicts(live_counts(requests, 60, arm, adjust), POLICY, family=1, looks=SINGLE)[0]
        else:
            report = build_report(paired_window(requests, 60, adjust), POLICY, {}, {}, looks=SINGLE,
                                  pairs_needed=False, family=1)
            verdict = report.verdicts[0]
        false += verdict.verdict in (REGRESSION, IMPROVEMENT)
    return false / runs


@pytest.mark.parametrize("reading", ["paired", "live"])
def test_a_clustered_a_a_population_is_not_read_as_a_difference(reading: str) -> None:
    # Heavy users whose candidate refuses 20 pp more or less (mean 0): read as independent answers, ~20% of these
    # A/A analyses report a difference at 5%; allowing for the clustering keeps it at about the level.
    assert _false_rate(reading, adjust=True) <= 0.08
    assert _false_rate(reading, adjust=False) >= 0.12


def test_a_verdict_says_its_unit_and_how_many_independent_pairs_it_rests_on() -> None:
    rng = np.random.default_rng(2)
    requests = simulate(rng, users=3000, days=60, effect=0.0)
    verdict = build_report(paired_window(requests, 60), POLICY, {}, {}, looks=ANYTIME, family=1).verdicts[0]
    assert verdict.unit.startswith("user (routing key)") and verdict.design_effect > 1.5
    assert verdict.independent_n == pytest.approx(verdict.n / verdict.design_effect)
    # Pairs without routing keys are taken as independent, and the verdict says so.
    judged = {"refused": False}
    independent = report_from_samples([PairSample("chat", judged, judged, 1.0, 1.0, None, None)] * 200, POLICY, {}, {})
    assert independent.verdicts[0].unit.startswith("pair") and independent.verdicts[0].design_effect == 1.0


def test_live_answers_and_ttfts_are_counted_per_key_group_for_the_verdicts_and_kept_off_metrics() -> None:
    rng = np.random.default_rng(4)
    metrics = GatewayMetrics(CollectorRegistry())
    quality = QualityMetrics(metrics.registry)
    # 400 users with ten answers each, arms by user; half the users are slow and refuse often, on both arms alike.
    for user in range(400):
        variant, slow, key = ("candidate" if user % 2 else "baseline"), user % 4 < 2, f"user-{user}"
        for _ in range(10):
            judgement = AnswerJudgement(bool(rng.random() < (0.5 if slow else 0.02)), None, True, False, None, 0.0,
                                        False, False, 10, 40)
            quality.observe_answer(variant, "chat", "primary", judgement, 50.0, live_key_group(key))
            ttft = float(rng.lognormal(np.log(0.5 if slow else 0.05), 0.2))
            metrics.observe_request(RequestRecord(variant, "chat", "chat", "200", True, 1.0, ttft, 10,
                                                  candidate_share=50.0, routing_key=key))
    policy = POLICY.model_copy(update={"defaults": POLICY.defaults.model_copy(update={
        "ttft_p95": LatencyTolerance(max_increase_pct=20)})})
    verdicts = {v.metric: v for v in unpaired_verdicts(read_live_counts(metrics.registry), policy, family=1,
                                                        looks=SINGLE)}
    refusals, ttft_p95 = verdicts["refusal_rate"], verdicts["ttft_p95"]
    assert refusals.unit.startswith("user (routing key): answers counted in 32 key groups")
    assert refusals.design_effect > 2 and refusals.independent_n < refusals.n / 2
    assert ttft_p95.unit.startswith("user (routing key): TTFTs counted in 32 key groups")
    assert ttft_p95.design_effect > 1.5
    # The per-group series are the verdicts' input, not something Prometheus scrapes.
    exposed = metrics.render(None)[0].decode()
    assert "quantgate_live_answers_total" in exposed and "key_group" not in exposed


def test_sign_tests_and_p95_allow_for_one_users_pairs_from_the_sampled_keys() -> None:
    rng = np.random.default_rng(8)
    judged = {"refused": False}

    def pairs(keyed: bool) -> list[PairSample]:
        out = []
        for user in range(200):
            similar, slow = user % 2 == 0, user % 10 == 0  # half the users' answers drift, a tenth are slow
            for _ in range(10):
                ttft = float(rng.lognormal(np.log(0.5 if slow else 0.05), 0.1))
                out.append(PairSample("chat", judged, judged, 1.0, 0.9 if similar else 0.3, ttft, ttft,
                                      routing_key=f"user-{user}" if keyed else None))
        return out

    policy = POLICY.model_copy(update={"defaults": POLICY.defaults.model_copy(update={
        "similarity": SimilarityTolerance(min_median=0.6), "ttft_p95": LatencyTolerance(max_increase_pct=20)})})
    clustered = {v.metric: v for v in report_from_samples(pairs(True), policy, {}, {}, looks=SINGLE).verdicts}
    independent = {v.metric: v for v in report_from_samples(pairs(False), policy, {}, {}, looks=SINGLE).verdicts}
    for metric in ("similarity", "ttft_p95"):
        assert clustered[metric].design_effect > 2 and independent[metric].design_effect == 1.0
        width = clustered[metric].interval[1] - clustered[metric].interval[0]
        assert width > independent[metric].interval[1] - independent[metric].interval[0]
