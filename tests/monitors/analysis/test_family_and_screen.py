"""The family α is split over is fixed before the data arrive, and no minimum sample hides a regression."""

from __future__ import annotations

import pytest

from monitors.analysis.hypothesis_family import HypothesisFamily, live_metric, stored_pair_metric
from monitors.analysis.policy import DEFAULT_POLICY
from monitors.analysis.samples import PairSample
from monitors.analysis.verdicts import INSUFFICIENT, OK, REGRESSION, build_report
from monitors.analysis.window_data import window_from_samples
from tests.conftest import chat_body


def _refusals(category: str, n: int, worse: int) -> list[PairSample]:
    judged = {"format_checked": False, "format_broken": False, "repetitive": False}
    flags = [(False, True)] * worse + [(False, False)] * (n - worse)
    return [PairSample(category, {**judged, "refused": b}, {**judged, "refused": c}, 1.0, 0.9, None, None)
            for b, c in flags]


def test_a_blatant_regression_under_the_minimum_sample_is_a_regression() -> None:
    """95 pairs, the candidate refusing 42% more: the interval excludes the tolerance, so it is one."""
    window = window_from_samples(_refusals("chat", 95, worse=40), DEFAULT_POLICY)
    report = build_report(window, DEFAULT_POLICY, {}, {})
    verdict = next(v for v in report.verdicts if v.metric == "refusal_rate")
    assert verdict.interval[0] > 0.01 and verdict.verdict == REGRESSION
    # The minimum sample still holds back "ok": identical arms on 95 pairs are not shown within tolerance.
    same = build_report(window_from_samples(_refusals("chat", 95, worse=0), DEFAULT_POLICY), DEFAULT_POLICY, {}, {})
    assert {v.verdict for v in same.verdicts} == {INSUFFICIENT}


def test_the_family_is_the_declared_categories_times_the_metrics_whatever_has_arrived() -> None:
    family = HypothesisFamily.declared_by(DEFAULT_POLICY, ["json", "chat"])
    judged = [m for m in ("refusal_rate", "format_break_rate", "repetition_rate", "shadow_failure_rate", "length_ratio",
                          "similarity")
              if DEFAULT_POLICY.tolerance("json", m) is not None]
    paired = family.size(DEFAULT_POLICY, stored_pair_metric)
    # json, chat, default and other, each with every stored-pair metric the policy judges (TTFT p95 included).
    assert paired == 4 * (len(judged) + 1)
    assert family.size(DEFAULT_POLICY, stored_pair_metric, seen=["json"]) == paired
    assert family.fixed_for(["json", "chat"]) and not family.fixed_for(["json", "mystery"])
    assert family.size(DEFAULT_POLICY, stored_pair_metric, seen=["mystery"]) == paired + len(judged) + 1
    # Live traffic measures refusal, format, repetition and empty-answer rates and TTFT (the default policy judges
    # those; language mismatches only when a policy sets a tolerance).
    assert family.size(DEFAULT_POLICY, live_metric) == 4 * 5
    assert "not fixed" in HypothesisFamily.declared_by(DEFAULT_POLICY, []).basis([])


def test_an_early_look_is_held_to_the_same_level_as_a_late_one() -> None:
    """Before: 5 tests with enough pairs early meant α/5; later α/37. Now every look uses α/m with m planned."""
    early = window_from_samples(_refusals("chat", 150, worse=3), DEFAULT_POLICY)
    late = window_from_samples(_refusals("chat", 150, worse=3) + _refusals("json", 5000, worse=20), DEFAULT_POLICY)
    family = HypothesisFamily.declared_by(DEFAULT_POLICY, ["json", "chat"])
    levels = set()
    for window in (early, late):
        m = family.size(DEFAULT_POLICY, stored_pair_metric, window.categories)
        report = build_report(window, DEFAULT_POLICY, {}, {}, family=m, family_basis=family.basis(window.categories))
        levels |= {v.interval_level for v in report.verdicts}
        assert report.family_size == m and report.family_basis.startswith("fixed in advance")
    assert len(levels) == 1 and levels.pop() == pytest.approx(1 - 2 * DEFAULT_POLICY.significance / m)


async def test_the_admin_report_states_a_family_that_does_not_grow_with_the_data(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(categories=["json", "chat"], comparisons={"flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    sizes = []
    async with gateway.admin() as admin, gateway.client() as client:
        sizes.append((await admin.get("/admin/verdicts")).json()["family_size"])
        for i in range(30):
            await client.post("/v1/chat/completions", json=chat_body(f"q{i}"), headers={"x-quantgate-category": "json"})
        report = (await admin.get("/admin/verdicts")).json()
    sizes.append(report["family_size"])
    assert sizes[0] == sizes[1] > 0 and report["family_basis"].startswith("fixed in advance")
    assert OK not in {v["verdict"] for v in report["verdicts"]}  # 30 pairs: nothing shown within tolerance yet
