"""Verdicts as the console prints them: tolerances in words, bars inside the drawing, the worst category first."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from monitors.analysis.verdict_reading import bar, category_views, tolerance_text

bounds = st.one_of(st.none(), st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf]))


@given(bounds, bounds, st.floats(allow_nan=False, allow_infinity=False),
       st.floats(min_value=0, max_value=1e308, allow_nan=False), st.booleans())
def test_every_mark_lands_inside_the_drawing(low: float | None, high: float | None, effect: float, limit: float,
                                             share: bool) -> None:
    drawn = bar(low, high, effect, limit, share)
    for x in (drawn.low, drawn.high, drawn.effect, drawn.tolerance, drawn.zero):
        assert 0 <= x <= 100
    assert drawn.low <= drawn.high or low is None or high is None or low > high


def test_an_interval_far_beyond_the_scale_runs_to_the_edge_instead_of_overflowing() -> None:
    drawn = bar(None, 1.7e308, 0.0, 0.01, share=False)
    assert (drawn.low, drawn.high, drawn.zero) == (0.0, 100.0, 50.0)


def test_tolerances_read_as_words_not_dicts() -> None:
    assert tolerance_text("refusal_rate", {"max_increase_pp": 1.0}) == "may rise at most 1 pp"
    assert tolerance_text("ttft_p95", {"max_increase_pct": 20}) == "p95 may rise at most 20 %"
    assert tolerance_text("similarity", {"min_median": 0.6}) == "median similarity at least 0.6"
    assert tolerance_text("length_ratio", {"min": 0.8, "max": 1.25}) == "median length ratio within 0.8–1.25"


def _verdict(category: str, metric: str, verdict: str, low: float, high: float) -> dict[str, object]:
    return {"category": category, "metric": metric, "verdict": verdict, "effect": (low + high) / 2,
            "interval": [low, high], "n": 500, "tolerance": {"max_increase_pp": 1.0}, "pairs_needed": None}


def test_the_worst_category_comes_first_and_links_to_its_flipped_pairs() -> None:
    views = category_views({"verdicts": [_verdict("chat", "refusal_rate", "ok", -0.01, 0.005),
                                         _verdict("json", "refusal_rate", "regression", 0.03, 0.08)],
                            "live_verdicts": [_verdict("chat", "refusal_rate", "inconclusive", -0.02, 0.03)]})
    assert [(v.category, v.status) for v in views] == [("json", "regression"), ("chat", "inconclusive")]
    assert views[0].rows[0].pairs_link == "/console/comparisons?category=json&flip=refusal"
    assert [r.source for r in views[1].rows] == ["shadow pairs", "live traffic"]
    # The regression's interval sits wholly right of the tolerance line.
    regression = views[0].rows[0].bar
    assert regression.tolerance < regression.low < regression.high
