"""The validation runner: both arms asked the same way, an interrupted run resumed, a failing backend reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from evals.runner import BackendAnswerError, Sampling, answer_suite, cache_path, read_cache
from evals.suite import EvalSuite, builtin_suite
from tests.conftest import Simulator, backend

SUITE = builtin_suite().reduced(3)


async def _requests(sim: Simulator) -> float:
    return float((await sim.stats())["requests"])


async def test_a_rerun_asks_only_what_is_missing_and_a_smaller_suite_reuses_answers(
        baseline_sim: Simulator, tmp_path: Path) -> None:
    settings = backend("baseline", baseline_sim.url, baseline_sim.name)
    cache = cache_path(tmp_path, {"root": "x"}, settings, Sampling())
    first = await answer_suite(SUITE.reduced(2), settings, cache, 4, Sampling())
    assert set(first) == {item.id for item in SUITE.reduced(2).items}
    asked = await _requests(baseline_sim)
    everything = await answer_suite(SUITE, settings, cache, 4, Sampling())
    assert await _requests(baseline_sim) - asked == len(SUITE.items) - len(first)  # only the third of each category
    assert all(everything[k] == v for k, v in first.items())
    assert len(read_cache(cache)) == len(SUITE.items)


async def test_an_edited_item_is_asked_again(baseline_sim: Simulator, tmp_path: Path) -> None:
    settings = backend("baseline", baseline_sim.url, baseline_sim.name)
    cache = cache_path(tmp_path, None, settings, Sampling())
    await answer_suite(SUITE, settings, cache, 4, Sampling())
    asked = await _requests(baseline_sim)
    edited = SUITE.items[0].model_copy(update={"max_tokens": 7})
    await answer_suite(EvalSuite("edited", (edited, *SUITE.items[1:])), settings, cache, 4, Sampling())
    assert await _requests(baseline_sim) - asked == 1


async def test_a_backend_that_keeps_failing_stops_the_run_and_keeps_the_answers(
        make_simulator: Callable[..., Awaitable[Simulator]], tmp_path: Path) -> None:
    broken = await make_simulator("broken", operational={"error_rate": 1.0})
    settings = backend("candidate", broken.url, broken.name)
    with pytest.raises(BackendAnswerError, match="failed item .* 3 times: HTTP 5"):
        await answer_suite(SUITE, settings, cache_path(tmp_path, None, settings, Sampling()), 2, Sampling())
