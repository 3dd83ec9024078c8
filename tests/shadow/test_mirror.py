"""Shadow traffic end to end: faults found in their category only, isolation of the primary, bounds, stops."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from shadow.sampling import shared_seed
from tests.conftest import Gateway, GatewayFactory, Simulator, chat_body, wait_for_pairs
from tests.helpers import metric_value, sse_events, stream_text

CATEGORIES = ("benign-sensitive", "json", "long", "chat")


def _body(category: str, i: int) -> dict:
    body = chat_body(f"{category} question number {i}", max_tokens=2000 if category == "long" else 120,
                     stream=i % 2 == 0,
                     metadata={"category": category})
    if category == "json":
        body["response_format"] = {"type": "json_object"}
    return body


async def _send(gateway: Gateway, bodies: list[dict]) -> list[httpx.Response]:
    async with gateway.client() as client:
        return [await client.post("/v1/chat/completions", json=b) for b in bodies]


async def test_injected_faults_are_found_in_their_category_only(shadow_gateway: Gateway,
                                                                candidate_sim: Simulator) -> None:
    await candidate_sim.control(faults={"benign-sensitive": {"refusal": 1.0}, "json": {"broken_json": 1.0},
                                        "long": {"longer": 1.0}})
    bodies = [_body(c, i) for c in CATEGORIES for i in range(6)]
    responses = await _send(shadow_gateway, bodies)
    assert {r.headers["x-quantgate-variant"] for r in responses} == {"baseline"}
    page = await wait_for_pairs(shadow_gateway, len(bodies))
    assert page["total"] == len(bodies)
    by_category: dict[str, list[dict]] = {c: [r for r in page["comparisons"] if r["category"] == c] for c in CATEGORIES}
    assert all(r["refusal_flip"] == "candidate_worse" for r in by_category["benign-sensitive"])
    assert all(r["format_flip"] == "candidate_worse" for r in by_category["json"])
    assert all(r["length_ratio"] > 1.25 for r in by_category["long"])
    for category in ("chat",):
        assert all(r["exact_match"] and r["similarity"] == 1.0 for r in by_category[category])
    flipped = {r["category"] for r in page["comparisons"] if r["refusal_flip"] or r["format_flip"]}
    assert flipped == {"benign-sensitive", "json"}
    async with shadow_gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_shadow_flips_total", category="benign-sensitive", kind="refusal") == 6
    assert metric_value(metrics, "quantgate_shadow_flips_total", category="chat") == 0
    assert metric_value(metrics, "quantgate_refusals_total", variant="candidate", arm="shadow",
                        category="benign-sensitive") == 6
    assert metric_value(metrics, "quantgate_refusals_total", variant="baseline") == 0
    assert metric_value(metrics, "quantgate_format_breaks_total", variant="candidate", category="json") == 6
    # Shadow requests are not client requests.
    assert metric_value(metrics, "quantgate_requests_total") == len(bodies)


async def test_hung_shadow_backend_leaves_primary_untouched(make_gateway: GatewayFactory, baseline_sim: Simulator,
                                                            candidate_sim: Simulator) -> None:
    gateway = await make_gateway(shadow={"max_in_flight": 2, "queue_size": 2, "timeout_s": 30})
    await gateway.set_flags(shadow_percent=100)
    await candidate_sim.control(operational={"hang": True})
    body = chat_body("same prompt", stream=True, seed=5, max_tokens=20)
    async with httpx.AsyncClient() as direct:
        expected = stream_text(sse_events((await direct.post(f"{baseline_sim.url}/v1/chat/completions",
                                                             json={**body, "model": baseline_sim.name})).text))
    responses = await _send(gateway, [body] * 10)
    assert all(r.status_code == 200 and stream_text(sse_events(r.text)) == expected for r in responses)
    # Every primary finished while its shadows were still hanging on the candidate.
    stats = await candidate_sim.stats()
    assert stats["in_flight"] == 2
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_shadow_in_flight") == 2
    assert metric_value(metrics, "quantgate_shadow_queued") == 2
    assert metric_value(metrics, "quantgate_shadow_drops_total", reason="queue_full") == 6


async def _send_until(gateway: Gateway, metric: str, at_least: float, limit: int = 1000, **labels: str) -> float:
    """Send primaries one by one until `metric` reaches `at_least` (or `limit` requests); returns its value."""
    value = 0.0
    async with gateway.client() as client:
        for i in range(limit):
            response = await client.post("/v1/chat/completions", json=chat_body(f"q{i}", stream=i % 2 == 0))
            assert response.status_code == 200
            value = metric_value((await client.get("/metrics")).text, metric, **labels)
            if value >= at_least:
                break
            await asyncio.sleep(0.02)
    return value


async def test_hung_shadow_target_is_abandoned_and_shadows_resume_once_it_recovers(
        make_gateway: GatewayFactory, candidate_sim: Simulator) -> None:
    gateway = await make_gateway(shadow={"max_in_flight": 4, "queue_size": 4, "breaker_stall_s": 0.5,
                                         "breaker_open_s": 0.2, "breaker_probe_timeout_s": 0.5})
    await gateway.set_flags(shadow_percent=100)
    await candidate_sim.control(operational={"hang": True})
    assert await _send_until(gateway, "quantgate_shadow_circuit_open", 1, variant="candidate") == 1
    # The shadows stuck on the hung target were let go, and the target saw them go (upstream closed).
    assert (await candidate_sim.wait_for_aborts(4, timeout_s=15))["aborted"] >= 4
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_shadow_requests_total", variant="candidate", outcome="abandoned") >= 4
    assert metric_value(metrics, "quantgate_shadow_drops_total", reason="circuit_open") >= 1
    assert metric_value(metrics, "quantgate_shadow_comparisons_total") == 0
    await candidate_sim.control(operational={"hang": False})
    # Without the breaker the four slots stay taken until the 120 s shadow timeout; with it, the next probe closes it.
    assert await _send_until(gateway, "quantgate_shadow_comparisons_total", 3) >= 3
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_shadow_circuit_open", variant="candidate") == 0


async def test_a_shadow_that_times_out_is_kept_as_a_censored_latency(make_gateway: GatewayFactory,
                                                                     candidate_sim: Simulator) -> None:
    gateway = await make_gateway(shadow={"first_byte_timeout_s": 0.5, "breaker_failures": 100},
                                 comparisons={"flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    await candidate_sim.control(operational={"hang": True})
    await _send(gateway, [chat_body(f"slow {i}", stream=True) for i in range(3)])
    page = await wait_for_pairs(gateway, 3)
    rows = page["comparisons"]
    # The slowest candidate answers are not dropped: each is stored with its TTFT censored at the time waited.
    assert len(rows) == 3 and {r["censored_arm"] for r in rows} == {"candidate"}
    assert all(r["ttft_censored"] and r["candidate_ttft_s"] >= 0.5 and r["baseline_ttft_s"] > 0 for r in rows)
    async with gateway.admin() as admin:
        report = (await admin.get("/admin/verdicts", params={"since": "1h"})).json()
    # No answer to compare, so no rate or similarity counts them; the latency sample does.
    assert (report["window_pairs"], report["censored_shadows"], report["sampled_pairs"]) == (0, 3, 3)


async def test_failing_shadow_opens_the_circuit_after_consecutive_errors(make_gateway: GatewayFactory,
                                                                         candidate_sim: Simulator) -> None:
    gateway = await make_gateway(shadow={"breaker_failures": 3, "breaker_open_s": 60})
    await gateway.set_flags(shadow_percent=100)
    await candidate_sim.control(operational={"error_rate": 1.0})
    assert await _send_until(gateway, "quantgate_shadow_circuit_open", 1, limit=50, variant="candidate") == 1
    async with gateway.client() as client:
        metrics = (await client.get("/metrics")).text
    # Three failures open it; while it is open nothing more goes to the failing target.
    assert metric_value(metrics, "quantgate_shadow_requests_total", variant="candidate", outcome="error") == 3
    assert (await candidate_sim.stats())["shadow"] == 3


async def test_failing_shadow_is_counted_not_seen(shadow_gateway: Gateway, candidate_sim: Simulator) -> None:
    await candidate_sim.control(operational={"error_rate": 1.0})
    responses = await _send(shadow_gateway, [chat_body(f"p{i}") for i in range(5)])
    assert {r.status_code for r in responses} == {200}
    async with shadow_gateway.client() as client:
        for _ in range(100):
            metrics = (await client.get("/metrics")).text
            if metric_value(metrics, "quantgate_shadow_drops_total", reason="shadow_error") == 5:
                break
            await asyncio.sleep(0.05)
    assert metric_value(metrics, "quantgate_shadow_drops_total", reason="shadow_error") == 5


async def test_rollback_and_zero_percent_stop_shadows(shadow_gateway: Gateway, candidate_sim: Simulator) -> None:
    await _send(shadow_gateway, [chat_body(f"a{i}") for i in range(4)])
    await wait_for_pairs(shadow_gateway, 4)
    assert (await candidate_sim.stats())["shadow"] == 4
    async with shadow_gateway.admin() as admin:
        await admin.post("/admin/rollback", json={"reason": "stop"})
    await _send(shadow_gateway, [chat_body(f"b{i}") for i in range(4)])
    assert (await candidate_sim.stats())["shadow"] == 4
    await shadow_gateway.set_flags(rollback=False, shadow_percent=0)
    await _send(shadow_gateway, [chat_body(f"c{i}") for i in range(4)])
    await asyncio.sleep(0.2)
    assert (await candidate_sim.stats())["shadow"] == 4


async def test_both_arms_get_the_gateway_seed(shadow_gateway: Gateway, baseline_sim: Simulator) -> None:
    body = chat_body("seedless prompt", temperature=0.8, max_tokens=30)
    async with shadow_gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=body, headers={"x-request-id": "rid-42"})
    async with httpx.AsyncClient() as direct:
        seeded = await direct.post(f"{baseline_sim.url}/v1/chat/completions",
                                   json={**body, "model": baseline_sim.name, "seed": shared_seed("rid-42")})
    assert response.json()["choices"][0]["message"] == seeded.json()["choices"][0]["message"]
    page = await wait_for_pairs(shadow_gateway, 1)
    assert page["comparisons"][0]["exact_match"] is True


def _db_text(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("select prompt_text, baseline_text, candidate_text "
                            "from quantgate_shadow_comparison").fetchall()
    return repr(rows)


async def test_texts_are_not_stored_by_default(shadow_gateway: Gateway, tmp_path: Path) -> None:
    await _send(shadow_gateway, [chat_body("mail me at jane.doe@example.com")])
    await wait_for_pairs(shadow_gateway, 1)
    assert "jane.doe" not in _db_text(tmp_path / "flags.db")
    assert _db_text(tmp_path / "flags.db") == "[(None, None, None)]"


async def test_texts_stored_truncated_and_redacted_when_enabled(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = await make_gateway(comparisons={"store_texts": True, "max_text_chars": 200, "flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    await _send(gateway, [chat_body("mail jane.doe@example.com, call +1 415 555 0100, key sk-abcdefghijklmnop1234")])
    page = await wait_for_pairs(gateway, 1)
    async with gateway.admin() as admin:
        record = (await admin.get(f"/admin/comparisons/{page['comparisons'][0]['id']}")).json()
    assert "[EMAIL]" in record["prompt_text"] and "[PHONE]" in record["prompt_text"]
    assert "[API_KEY]" in record["prompt_text"]
    assert "jane.doe" not in _db_text(tmp_path / "flags.db")
    assert record["baseline_text"] and len(record["baseline_text"]) <= 200


async def test_a_candidate_failing_on_hard_prompts_is_a_shadow_failure_regression_not_a_gap(
        make_gateway: GatewayFactory, candidate_sim: Simulator) -> None:
    gateway = await make_gateway(shadow={"breaker_failures": 10_000}, comparisons={"flush_interval_s": 0.05})
    await gateway.set_flags(shadow_percent=100)
    # Half of the hard (math) prompts get a 503 from the candidate; chat is answered.
    await candidate_sim.control(faults={"math": {"error": 0.5}})
    responses = await _send(gateway, [_body("math", i) for i in range(60)] + [_body("chat", i) for i in range(60)])
    assert {r.status_code for r in responses} == {200}  # the primary (baseline) answered every one
    page = await wait_for_pairs(gateway, 120)
    failed = [r for r in page["comparisons"] if r["censored_arm"] == "candidate"]
    assert failed and {r["category"] for r in failed} == {"math"}
    async with gateway.admin() as admin:
        report = (await admin.get("/admin/verdicts", params={"since": "1h"})).json()
    verdicts = {(v["category"], v["metric"]): v for v in report["verdicts"]}
    math = verdicts[("math", "shadow_failure_rate")]
    # Counted against the arm that failed, over every shadow sent: a regression even under the minimum sample.
    assert (math["n"], math["verdict"]) == (60, "regression")
    assert math["candidate_value"] == len(failed) / 60 and math["baseline_value"] == 0
    assert verdicts[("chat", "shadow_failure_rate")]["candidate_value"] == 0
    # The failed prompts are not silently in (or out of) the other counts: those count the answered pairs only.
    assert verdicts[("math", "refusal_rate")]["n"] == 60 - len(failed)
