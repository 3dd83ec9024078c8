"""GET /admin/verdicts and `quantgate report` against a gateway with stored shadow pairs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.main import app
from tests.conftest import ADMIN_TOKEN, Gateway, Simulator, chat_body, wait_for_pairs


async def _traffic(gateway: Gateway, n: int) -> None:
    async with gateway.client() as client:
        for i in range(n):
            category = ("benign-sensitive", "chat")[i % 2]
            await client.post("/v1/chat/completions", json=chat_body(f"q{i}", stream=True, max_tokens=40,
                                                                     metadata={"category": category}))


async def test_verdicts_and_report(shadow_gateway: Gateway, candidate_sim: Simulator, tmp_path: Path) -> None:
    await candidate_sim.control(faults={"benign-sensitive": {"refusal": 0.5}})
    await _traffic(shadow_gateway, 40)
    await wait_for_pairs(shadow_gateway, 40)
    async with shadow_gateway.admin() as admin:
        report = (await admin.get("/admin/verdicts")).json()
        window = (await admin.get("/admin/verdicts", params={"since": "1h"})).json()
        bad = await admin.get("/admin/verdicts", params={"since": "last week"})
        both = await admin.get("/admin/verdicts", params={"since": "1h", "start": "2h"})
    assert bad.status_code == 400 and both.status_code == 400
    # The default view is the analysis, growing from the current candidate's first pair; a sliding window is the
    # descriptive, fixed-sample view, and says so.
    assert report["view"]["kind"] == "analysis" and window["view"]["kind"] == "window"
    assert window["looks"] == "single" and "not one growing sequence" in window["view"]["note"]
    assert window["strata"] == report["strata"]
    assert report["strata"] == {"benign-sensitive": 20, "chat": 20}
    assert report["candidate_stamp"]["quantization"] == "w8a8" and report["policy"].startswith("quantgate-default")
    refusal = next(v for v in report["verdicts"]
                   if v["category"] == "benign-sensitive" and v["metric"] == "refusal_rate")
    # 20 pairs is under the default minimum of 100: not enough to show anything within tolerance; a regression
    # only if the interval already excludes the tolerance (the minimum sample never hides one).
    assert refusal["candidate_value"] > refusal["baseline_value"]
    assert refusal["verdict"] == ("regression" if refusal["interval"][0] > 0.01 else "insufficient data")
    # Reloading this endpoint as pairs accrue is peeking: the intervals are confidence sequences, and the data
    # behind them is stated (every pair counted; the value sample is the whole window here).
    assert report["looks"] == "anytime" and refusal["interval_kind"].startswith("anytime-valid")
    assert (report["window_pairs"], report["sampled_pairs"], report["sample_exhaustive"]) == (40, 40, True)
    # Live answers are counted per routing stratum: rollout 0%, so every primary answer is in the "0" stratum.
    assert report["live_window"]["strata"] == {"benign-sensitive": ["0"], "chat": ["0"]}
    html = tmp_path / "report.html"
    result = await asyncio.to_thread(CliRunner().invoke, app, ["report", "--html", str(html),
                                                               "--url", shadow_gateway.url, "--token", ADMIN_TOKEN],
                                     env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "refusal_rate" in result.output and "insufficient data" in result.output
    assert "One analysis that only grows" in " ".join(result.output.split())
    page = html.read_text()
    assert page.startswith("<!doctype html>") and page.count("data:image/png;base64,") == 3
    assert "40 pairs in the window" in page and "newest 40 of 40 pairs" in page
    assert "One analysis that only grows" in page and f"m = {report['family_size']} tests" in page
    # The answer first, in words: no dict reprs of stamps or tolerances, and the question answered before any table.
    assert page.index("Did the candidate regress?") < page.index("class='answer'") < page.index("<table")
    assert "{'" not in page and "may rise at most 1 pp" in page and "quantization</dt><dd>w8a8" in page


async def test_verdicts_say_when_pairs_come_from_few_users(shadow_gateway: Gateway, tmp_path: Path) -> None:
    """Ten requests each from three users: the verdicts name the unit and warn that pairs cluster by user."""
    async with shadow_gateway.client() as client:
        for i in range(30):
            await client.post("/v1/chat/completions", json=chat_body(f"q{i}", max_tokens=8),
                              headers={"x-quantgate-key": f"user-{i % 3}", "x-quantgate-category": "json"})
        for i in range(20):  # no key: each request is its own unit
            await client.post("/v1/chat/completions", json=chat_body(f"r{i}", max_tokens=8),
                              headers={"x-quantgate-category": "chat"})
    await wait_for_pairs(shadow_gateway, 50)
    async with shadow_gateway.admin() as admin:
        report = (await admin.get("/admin/verdicts")).json()
    assert report["clustered"] == {"json": [30, 3]}
    verdicts = {(v["category"], v["metric"]): v for v in report["verdicts"]}
    refusals = verdicts[("json", "refusal_rate")]
    assert refusals["unit"].startswith("user (routing key): the 30 sampled pairs came from 3 keys")
    # Three users in at most three key groups: too few to estimate the clustering, each group counts as one pair.
    assert refusals["design_effect"] >= 10 and refusals["independent_n"] <= 3
    assert verdicts[("chat", "refusal_rate")]["unit"].startswith("pair (each sampled pair from its own routing key")
    assert verdicts[("chat", "refusal_rate")]["design_effect"] == 1.0
    result = await asyncio.to_thread(CliRunner().invoke, app, ["report", "--url", shadow_gateway.url, "--token",
                                                               ADMIN_TOKEN, "--html", str(tmp_path / "r.html")],
                                     env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Pairs cluster by user" in (tmp_path / "r.html").read_text()
    assert "json 30 sampled pairs from 3 routing keys" in " ".join(result.output.split()), result.output
