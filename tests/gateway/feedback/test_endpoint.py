"""`POST /v1/feedback`: the answer's token plus a declared signal, recorded once, refused with a reason otherwise,
and nothing acknowledged that the store did not keep."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import Gateway, GatewayFactory, chat_body
from tests.helpers import metric_value

KEY = "k" * 40


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text("name: with-feedback\ndefaults:\n  refusal_rate: {max_increase_pp: 1}\n"
                    "feedback:\n  thumbs_down: {max_increase_pp: 1}\n  csat: {kind: score, min: 1, max: 5}\n")
    return str(path)


@pytest.fixture
async def feedback_gateway(make_gateway: GatewayFactory, tmp_path: Path) -> Gateway:
    return await make_gateway(feedback={"keys": [KEY]}, policy_file=_policy(tmp_path))


async def _answer_token(client: httpx.AsyncClient, user: str = "alice", category: str = "json") -> str:
    response = await client.post("/v1/chat/completions", json=chat_body("hi"),
                                 headers={"x-quantgate-key": user, "x-quantgate-category": category})
    return response.headers["x-quantgate-feedback-token"]


async def test_a_signal_is_recorded_once_however_often_it_is_retried(feedback_gateway: Gateway) -> None:
    async with feedback_gateway.client() as client:
        token = await _answer_token(client)
        first = await client.post("/v1/feedback", json={"token": token, "signal": "thumbs_down"})
        again = await client.post("/v1/feedback", json={"token": token, "signal": "thumbs_down"})
        score = await client.post("/v1/feedback", json={"token": token, "signal": "csat", "value": 2,
                                                        "idempotency_key": "retry-1"})
        other = await _answer_token(client, "bob")
        # The same idempotency key on another answer: a client's retry, counted once.
        reused = await client.post("/v1/feedback", json={"token": other, "signal": "csat", "value": 4,
                                                         "idempotency_key": "retry-1"})
        metrics = (await client.get("/metrics")).text
    assert first.json() == {"recorded": True, "duplicate": False}
    assert again.json() == {"recorded": False, "duplicate": True}
    assert score.json()["recorded"] and reused.json() == {"recorded": False, "duplicate": True}
    assert metric_value(metrics, "quantgate_feedback_total", variant="baseline", category="json",
                        signal="thumbs_down") == 1


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"token": "not-a-token", "signal": "thumbs_down"}, 400, "feedback token refused"),
    ({"signal": "thumbs_down"}, 422, "token: Field required"),
    ({"token": "x", "signal": "smile"}, 422, "unknown signal `smile`; the policy declares: csat, thumbs_down"),
    ({"token": "x", "signal": "thumbs_down", "value": 1}, 422, "is an event"),
    ({"token": "x", "signal": "csat", "value": 9}, 422, "is a score from 1 to 5"),
    ({"token": "x", "signal": "Thumbs\u001b[2J"}, 422, "signal: String should match pattern"),
    ({"token": "x", "signal": "thumbs_down", "extra": 1}, 422, "extra: Extra inputs are not permitted"),
])
async def test_bad_feedback_is_a_4xx_with_its_reason(feedback_gateway: Gateway, body: dict, status: int,
                                                     reason: str) -> None:
    async with feedback_gateway.client() as client:
        if body.get("token") == "x":
            body = {**body, "token": await _answer_token(client)}
        response = await client.post("/v1/feedback", json=body)
    assert response.status_code == status and reason in response.json()["error"]["message"], response.text


async def test_an_oversized_body_and_a_gateway_without_keys_are_refused(feedback_gateway: Gateway,
                                                                        gateway: Gateway) -> None:
    async with feedback_gateway.client() as client:
        large = await client.post("/v1/feedback", content=b"{" + b" " * 5000 + b"}")
    async with gateway.client() as client:
        off = await client.post("/v1/feedback", json={"token": "x", "signal": "thumbs_down"})
    assert large.status_code == 413
    assert off.status_code == 404 and "feedback is not configured" in off.json()["error"]["message"]


async def test_a_store_that_cannot_write_acknowledges_nothing_and_loses_nothing_acknowledged(
        make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = await make_gateway(feedback={"keys": [KEY]}, policy_file=_policy(tmp_path),
                                 flag_store_timeouts={"write_deadline_s": 0.5})
    database = tmp_path / "flags.db"
    async with gateway.client() as client:
        kept_token, lost_token = await _answer_token(client, "a"), await _answer_token(client, "b")
        kept = await client.post("/v1/feedback", json={"token": kept_token, "signal": "thumbs_down"})
        # Another process holds the database's write lock: the write cannot happen.
        blocker = sqlite3.connect(database, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            refused = await client.post("/v1/feedback", json={"token": lost_token, "signal": "thumbs_down"})
        finally:
            blocker.rollback()
            blocker.close()
        await asyncio.sleep(0)
        rows = sqlite3.connect(database).execute("SELECT token_sha256 FROM quantgate_feedback").fetchall()
        retried = await client.post("/v1/feedback", json={"token": lost_token, "signal": "thumbs_down"})
    assert kept.json()["recorded"] and refused.status_code == 503
    assert "nothing was recorded" in refused.json()["error"]["message"]
    assert len(rows) == 1  # the acknowledged one, and not the refused one
    assert retried.json() == {"recorded": True, "duplicate": False}
