"""Verdict inputs computed in the database: every pair counted, values sampled uniformly and said so."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

from bench.pairs import PairSource, injected
from flags.comparisons import ComparisonStore, ShadowComparisonRow
from flags.model import utcnow
from flags.window_queries import sample_window
from monitors.analysis.policy import DEFAULT_POLICY, CategoryPolicy, LatencyTolerance, SimilarityTolerance
from monitors.analysis.samples import samples_from_rows
from monitors.analysis.verdicts import build_report
from monitors.analysis.window_data import window_from_samples, window_from_store
from shadow.redaction import default_redactor
from shadow.settings import ComparisonStoreSettings
from shadow.writer import comparison_row

# A named category with its own similarity floor: the SQL must apply the category's threshold, not the default.
POLICY = DEFAULT_POLICY.model_copy(update={"categories": {"json": CategoryPolicy(
    similarity=SimilarityTolerance(min_median=0.8))}})


def _rows(n: int, seed: int, age: timedelta = timedelta(0)) -> list[ShadowComparisonRow]:
    source, rng = PairSource(injected("benign-sensitive", 10.0), seed=seed), random.Random(seed)
    rows = []
    for i in range(n):
        # Each pair from its own user (per-request routing keys): independent pairs.
        row = comparison_row(source.comparison(), f"h{seed}-{i}", ({}, {}), "", ComparisonStoreSettings(),
                             default_redactor)
        row.created_at = utcnow() - age
        row.baseline_ttft_s, row.candidate_ttft_s = rng.lognormvariate(-2, 0.5), rng.lognormvariate(-2, 0.5)
        row.baseline_total_s, row.candidate_total_s = row.baseline_ttft_s + 1.0, row.candidate_ttft_s + 1.0
        rows.append(row)
    return rows


@pytest.fixture
def store(database_url: str) -> Iterator[ComparisonStore]:
    store = ComparisonStore(database_url)
    yield store
    store.close()


def test_the_window_counts_every_pair_in_it_and_none_outside(store: ComparisonStore) -> None:
    inside = _rows(1500, seed=1)
    store.insert_many(_rows(300, seed=2, age=timedelta(days=3)) + inside)
    from_db = window_from_store(store, utcnow() - timedelta(days=1), None, POLICY)
    in_memory = window_from_samples(samples_from_rows(inside), POLICY)
    assert from_db.window_pairs == 1500 and from_db.exhaustive
    assert set(from_db.categories) == set(in_memory.categories)
    for name, window in from_db.categories.items():
        expected = in_memory.categories[name]
        # The stored rates (the empty-answer rate is judged from answers in memory, not from stored columns).
        stored = {metric: counts for metric, counts in expected.rates.items() if metric in window.rates}
        assert (window.pairs, window.rates, window.similarity_below, window.length_below, window.length_above,
                window.timed_pairs) == (expected.pairs, stored, expected.similarity_below,
                                        expected.length_below, expected.length_above, expected.timed_pairs)
        assert sorted(window.baseline_ttft) == pytest.approx(sorted(expected.baseline_ttft))
    # The planted +10 pp refusal rise is in the counts, and json's own floor (0.8) applied in SQL.
    assert from_db.categories["benign-sensitive"].rates["refusal_rate"].worse > 10
    json_sims = np.array([r.similarity for r in inside if r.category == "json"])
    assert from_db.categories["json"].similarity_below.beyond == int(np.sum(json_sims < 0.8))


def test_a_window_larger_than_the_sample_is_sampled_uniformly_and_the_report_says_so(store: ComparisonStore) -> None:
    rows = _rows(3000, seed=3)
    store.insert_many(rows)
    window = window_from_store(store, utcnow() - timedelta(hours=1), None, POLICY, sample_size=1000)
    assert window.window_pairs == 3000 and not window.exhaustive
    assert 880 <= window.sampled_pairs <= 1120  # each pair kept with probability 1000 / 3000 (binomial spread)
    # Counts still cover every pair; only the values come from the sample.
    assert sum(w.pairs for w in window.categories.values()) == 3000
    sampled = sum(w.baseline_ttft.size for w in window.categories.values())
    assert sampled == window.sampled_pairs
    report = build_report(window, POLICY, {}, {})
    assert (report.window_pairs, report.sampled_pairs, report.sample_exhaustive) == (3000, window.sampled_pairs, False)
    latency = [v for v in report.verdicts if v.metric == "ttft_p95"]
    assert latency and all(v.sample_n is not None and v.sample_n < 1000 for v in latency)
    # Nested: the same start read again after the window grew keeps a subset of what it kept of the same pairs
    # (their figures together identify them).
    since = utcnow() - timedelta(hours=1)
    def identity(pair: object) -> tuple[object, ...]:
        return tuple(getattr(pair, name) for name in ("similarity", "length_ratio", "baseline_ttft_s",
                                                      "candidate_ttft_s", "baseline_total_s", "candidate_total_s"))

    first = {identity(p) for p in sample_window(store, since, None, 1000, 3000).pairs}
    earlier = {identity(r) for r in rows}
    store.insert_many(_rows(3000, seed=5))
    later = {identity(p) for p in sample_window(store, since, None, 1000, 6000).pairs}
    assert len(later & earlier) > 300 and later & earlier <= first
    # Uniform: the sample's category mix follows the window's.
    for part in window.categories.values():
        assert abs(part.baseline_ttft.size / window.sampled_pairs - part.pairs / 3000) < 0.05


def test_timed_out_shadows_enter_the_latency_quantile_as_censored(store: ComparisonStore) -> None:
    from monitors.quality.answer import CapturedAnswer
    from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
    from shadow.writer import CensoredShadow, censored_row

    rows = [row for row in _rows(1500, seed=4) if row.category == "chat"]
    store.insert_many(rows)
    since = utcnow() - timedelta(hours=1)

    policy = POLICY.model_copy(update={"defaults": POLICY.defaults.model_copy(update={
        "total_p95": LatencyTolerance(max_increase_pct=20)})})

    def verdicts() -> dict[str, str]:
        report = build_report(window_from_store(store, since, None, policy), policy, {}, {})
        return {v.metric: v.verdict for v in report.verdicts if v.category == "chat"}

    assert verdicts()["ttft_p95"] != "regression" and verdicts()["total_p95"] != "regression"
    # 15% of the candidate's answers to chat never came: the shadow gave up after 4 s without a first token.
    judge, answer = AnswerJudge(DetectorSettings()), CapturedAnswer("baseline", "fine", "stop", 1, 0.1, 0.2, True)
    judgement = judge.judge(answer.text, answer.finish_reason, answer.output_tokens, None, "chat")
    store.insert_many([censored_row(f"slow-{i}", "chat", f"slow-{i}", answer, judgement,
                                    CensoredShadow("candidate", None, 4.0), ({}, {})) for i in range(len(rows) // 6)])
    window = window_from_store(store, since, None, POLICY)
    assert window.categories["chat"].censored == len(rows) // 6 and window.categories["chat"].pairs == len(rows)
    assert verdicts()["ttft_p95"] == "regression" and verdicts()["total_p95"] == "regression"


def test_whole_hours_read_from_the_rollup_match_the_rows_through_inserts_and_purges(store: ComparisonStore) -> None:
    from flags.window_queries import _raw_tallies, tally_window

    rows = []
    for hours_back in (0, 1, 2, 3, 5, 9):
        part = _rows(120, seed=10 + hours_back, age=timedelta(hours=hours_back, minutes=17))
        for row in part[::7]:
            row.candidate_ttft_s = None  # an untimed pair: NULLs must count as "no", not break the sums
        rows += part
    store.insert_many(rows)
    # A purge deletes whole and partial hours: the triggers take the deleted rows back out of the rollup.
    assert store.purge_older_than(timedelta(hours=8, minutes=30)) == 120
    since = utcnow() - timedelta(hours=6, minutes=40)
    from_rollup = {t.category: t.groups for t in tally_window(store, since, None)}
    from_rows: dict[str, dict[int, object]] = {}
    for group, tally in _raw_tallies(store, since, None):
        from_rows.setdefault(tally.category, {})[group] = tally
    # Per category and key group (the verdicts' independent units), the same counts either way.
    assert from_rollup == from_rows
    assert sum(t.pairs for groups in from_rollup.values() for t in groups.values()) == 120 * 5
    with store.engine.connect() as conn:
        hours = conn.exec_driver_sql("SELECT count(DISTINCT hour) FROM quantgate_comparison_rollup "
                                     "WHERE pairs > 0").scalar()
    assert hours == 5  # one rollup row per hour and category that still has pairs


def test_the_analysis_starts_at_the_current_candidates_first_pair_and_after_a_cleared_rollback(
        store: ComparisonStore) -> None:
    from flags.window_queries import analysis_start

    old, new = _rows(50, seed=20, age=timedelta(hours=5)), _rows(50, seed=21, age=timedelta(hours=3))
    for row in old:
        row.candidate_stamp_json = '{"quantization": "w8a8"}'
    for row in new:
        row.candidate_stamp_json = '{"quantization": "gptq"}'
    store.insert_many(old + new)
    assert analysis_start(store, '{"quantization": "nothing yet"}', None) is None
    start = analysis_start(store, '{"quantization": "gptq"}', None)
    assert start is not None and abs((start - new[0].created_at).total_seconds()) < 1
    # The other candidate's pairs are not this analysis' (the stamp came back later: only the newest run counts).
    later = _rows(10, seed=22, age=timedelta(hours=1))
    for row in later:
        row.candidate_stamp_json = '{"quantization": "w8a8"}'
    store.insert_many(later)
    restart = analysis_start(store, '{"quantization": "w8a8"}', None)
    assert restart is not None and abs((restart - later[0].created_at).total_seconds()) < 1
    # A cleared rollback starts it over.
    cleared = utcnow() - timedelta(minutes=30)
    assert analysis_start(store, '{"quantization": "w8a8"}', cleared) is None
