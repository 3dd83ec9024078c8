"""The console over plain HTTP: login, the session cookie's attributes, CSRF, rollback, filters, audited reads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, Gateway, GatewayFactory, Simulator, chat_body
from tests.helpers import run_validate


@asynccontextmanager
async def _logged_in(gateway: Gateway, name: str = "alice") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        response = await client.post("/console/login", data={"name": name, "token": ADMIN_TOKEN})
        assert response.status_code == 303 and response.headers["location"] == "/console"
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def test_login_sets_a_strict_httponly_cookie_and_refuses_a_wrong_token(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/console")).status_code == 303  # not logged in: to the login page
        wrong = await client.post("/console/login", data={"name": "mallory", "token": "nope"})
        assert wrong.status_code == 401 and "wrong admin token" in wrong.text and not wrong.cookies
        bad_name = await client.post("/console/login", data={"name": "x\ny", "token": ADMIN_TOKEN})
        assert bad_name.status_code == 400
        ok = await client.post("/console/login", data={"name": "alice", "token": ADMIN_TOKEN})
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain HTTP here; `Secure` is set when the console is served over TLS


async def test_a_post_without_the_session_csrf_token_is_refused_and_changes_nothing(gateway: Gateway) -> None:
    async with _logged_in(gateway) as client:
        refused = await client.post("/console/rollback", data={"reason": "forged", "confirm": "yes"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        forged = await client.post("/console/rollback", data={"reason": "forged", "confirm": "yes", "csrf": "x" * 43})
        assert forged.status_code == 403
    assert gateway.runtime.store.snapshot().rollback is False
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        # No session at all: to the login page, nothing changed.
        assert (await anonymous.post("/console/rollback", data={"reason": "x", "confirm": "yes"})).status_code == 303
    assert gateway.runtime.store.snapshot().rollback is False


async def test_rollback_needs_a_reason_and_a_confirmation_then_is_audited_under_the_person(gateway: Gateway) -> None:
    async with _logged_in(gateway, "bob") as client:
        csrf = _csrf((await client.get("/console")).text)
        unconfirmed = await client.post("/console/rollback", data={"reason": "json breaks", "csrf": csrf})
        assert unconfirmed.status_code == 400 and "nothing was changed" in unconfirmed.text
        blank = await client.post("/console/rollback", data={"reason": "  ", "confirm": "yes", "csrf": csrf})
        assert blank.status_code == 400
        assert gateway.runtime.store.snapshot().rollback is False
        done = await client.post("/console/rollback", data={"reason": "json breaks", "confirm": "yes", "csrf": csrf})
        assert done.status_code == 303
        page = (await client.get(done.headers["location"])).text
    assert "ROLLBACK ACTIVE" in page
    entry = gateway.runtime.store.audit(1)[0]
    assert (entry.flag, entry.actor, entry.reason) == ("rollback", "console:bob", "json breaks")


async def test_comparisons_filter_and_a_pair_read_is_audited(shadowed_gateway: Gateway) -> None:
    async with _logged_in(shadowed_gateway, "carol") as client:
        flips = await client.get("/console/comparisons", params={"category": "json", "flip": "refusal"})
        assert flips.status_code == 200
        ids = re.findall(r'href="/console/comparisons/(\d+)"', flips.text)
        assert ids, "a refusal flip in json was expected"
        chat = await client.get("/console/comparisons", params={"category": "chat", "flip": "refusal"})
        assert "0 pairs match" in chat.text
        assert (await client.get("/console/comparisons", params={"sim_min": "2"})).status_code == 400
        assert (await client.get("/console/comparisons", params={"flip": "teleport"})).status_code == 400
        pair = await client.get(f"/console/comparisons/{ids[0]}")
        assert pair.status_code == 200 and 'id="baseline"' in pair.text and 'id="candidate"' in pair.text
        assert "<mark>" in pair.text and "div-mark" in pair.text  # the differences and where they part
        assert (await client.get("/console/comparisons/999999")).status_code == 404
    read = shadowed_gateway.runtime.store.reads(1)[0]
    assert (read.actor, read.resource, read.record_id, read.surface) == ("console:carol", "comparison", int(ids[0]),
                                                                       "console")


async def test_overview_and_report_answer_first_with_the_regressed_category(shadowed_gateway: Gateway) -> None:
    async with _logged_in(shadowed_gateway) as client:
        overview = (await client.get("/console")).text
        report = (await client.get("/console/report")).text
        audit = (await client.get("/console/audit")).text
        assert (await client.get("/console/static/console.css")).status_code == 200
    assert "Verdicts of the current analysis" in overview and "json" in overview and "Roll back" in overview
    assert "One analysis that only grows" in overview and "over m = " in overview
    assert "Did the candidate regress?" in report and "may rise at most" in report and "{'" not in report
    # The answer comes first: the refusal rise in json is named before any table.
    answer = report.split('<p class="answer">')[1].split("</p>")[0]
    assert "Yes, in json" in answer and "chat" not in answer.split("Not yet decided")[0]
    assert "Flag changes" in audit and "shadow_percent" in audit
    # The failed-login table is on the page once, and not inside the page's <title>.
    assert "<title>Audit · quantgate console</title>" in audit and audit.count('id="auth-failures"') == 1


async def test_reading_a_pair_through_the_admin_api_is_audited_too(shadowed_gateway: Gateway) -> None:
    async with shadowed_gateway.admin() as admin:
        first = (await admin.get("/admin/comparisons", params={"limit": 1})).json()["comparisons"][0]
        shown = await admin.get(f"/admin/comparisons/{first['id']}", headers={"x-quantgate-actor": "dave"})
    assert shown.status_code == 200 and shown.json()["baseline_text"]
    read = shadowed_gateway.runtime.store.reads(1)[0]
    assert (read.actor, read.record_id, read.surface) == ("dave", first["id"], "admin-api")


async def test_the_admin_api_filters_pairs_by_flip_kind_and_similarity(shadowed_gateway: Gateway) -> None:
    async with shadowed_gateway.admin() as admin:
        flipped = (await admin.get("/admin/comparisons", params={"category": "json", "flip": "refusal"})).json()
        close = (await admin.get("/admin/comparisons", params={"similarity_min": 0.99})).json()
        bad = await admin.get("/admin/comparisons", params={"flip": "teleport"})
    assert flipped["total"] > 0 and all(c["refusal_flip"] for c in flipped["comparisons"])
    assert all(c["similarity"] >= 0.99 for c in close["comparisons"])
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "flip"


async def test_feedback_verdicts_show_on_the_overview_beside_the_other_live_rates(make_gateway: GatewayFactory,
                                                                                 tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: console-feedback\nmin_paired_samples: 1\ndefaults:\n  refusal_rate: {max_increase_pp: 1}\n"
                      "feedback:\n  thumbs_down: {max_increase_pp: 2}\n")
    gateway = await make_gateway(feedback={"keys": ["k" * 40]}, policy_file=str(policy))
    await gateway.set_flags(rollout_percent=50)
    async with gateway.client() as client:
        for user in range(12):
            answer = await client.post("/v1/chat/completions", json=chat_body("hi"),
                                       headers={"x-quantgate-key": f"user-{user}", "x-quantgate-category": "json"})
            token = answer.headers["x-quantgate-feedback-token"]
            sent = await client.post("/v1/feedback", json={"token": token, "signal": "thumbs_down"})
            assert sent.json()["recorded"]
    async with _logged_in(gateway) as client:
        overview = (await client.get("/console")).text
    row = overview.split("<td>feedback:thumbs_down</td>")[1].split("</tr>")[0]
    assert "live traffic" in row and "answers getting `thumbs_down` may rise at most 2 pp" in row


async def test_the_overview_shows_both_arms_speed_memory_and_the_validations_payoff(
        make_gateway: GatewayFactory, baseline_sim: Simulator, candidate_sim: Simulator, tmp_path: Path) -> None:
    await baseline_sim.control(resident_memory_bytes=800 * 2**20)
    await candidate_sim.control(resident_memory_bytes=300 * 2**20)
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: console-payoff\ndefaults:\n  refusal_rate: {max_increase_pp: 30}\nperformance:\n"
                      "  concurrency: [1]\n  requests: 3\n  rounds: 2\n  warmup: 0\n  output_tokens: 4\n")
    gateway = await make_gateway(policy_file=str(policy), backend_check_interval_s=0.2)
    async with _logged_in(gateway) as client:
        before = (await client.get("/console")).text
    assert "No payoff half measured" in before
    await gateway.set_flags(rollout_percent=50)
    async with gateway.client() as client:
        for user in range(10):
            await client.post("/v1/chat/completions", json=chat_body("hi", stream=True),
                              headers={"x-quantgate-key": f"user-{user}"})
    code, output = await run_validate(gateway.settings, tmp_path, 2, "--performance")
    assert code in (0, 3, 4), output
    await gateway.runtime.refresh_backends()  # the validation in force, as the periodic check would read it
    async with _logged_in(gateway) as client:
        overview = (await client.get("/console")).text
    card = overview.split('id="payoff"')[1].split('id="rollback-card"')[0]
    assert "Validation #1:" in card and "resident memory 0.38x" in card
    assert "800 MiB" in card and "300 MiB" in card and "decode tokens/s per stream" in card
    assert card.count(" ms</td>") >= 2  # both arms have a live TTFT p95
