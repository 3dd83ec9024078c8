"""Answers served with a token reach the store as counts per cell (the guard's denominators), and a store that is
down delays them without losing any."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flags.deadlines import StoreTimeouts
from flags.feedback_store import FeedbackStore
from gateway.feedback.served import ServedAnswers
from tests.conftest import GatewayFactory, chat_body

KEY = "k" * 40


async def test_the_answers_a_gateway_gives_tokens_to_are_counted_in_the_store(
        make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = await make_gateway(feedback={"keys": [KEY]})
    async with gateway.client() as client:
        for user in ("alice", "bob", "carol"):
            response = await client.post("/v1/chat/completions", json=chat_body("hi"),
                                         headers={"x-quantgate-key": user, "x-quantgate-category": "json"})
            assert "x-quantgate-feedback-token" in response.headers
    assert await gateway.runtime.feedback_served.flush()
    cells = FeedbackStore(gateway.settings.flag_store_url).cells(datetime.now(UTC) - timedelta(hours=1), {})
    assert sum(n for (variant, category, share, _), n in cells.served.items()
               if (variant, category, share) == ("baseline", "json", 0.0)) == 3


async def test_a_store_that_is_down_keeps_the_counts_for_the_next_write(tmp_path: Path) -> None:
    database = tmp_path / "served.db"
    store = FeedbackStore(f"sqlite:///{database}", StoreTimeouts(write_deadline_s=0.5))
    store.ensure_schema()
    served = ServedAnswers(store, flush_s=3600)
    served.count("candidate", "json", 25.0, 7)
    served.count("candidate", "json", 25.0, 7)
    blocker = sqlite3.connect(database, timeout=30)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert await served.flush() is False
    finally:
        blocker.rollback()
        blocker.close()
    served.count("candidate", "json", 25.0, 7)
    assert await served.flush() is True
    cells = store.cells(datetime.now(UTC) - timedelta(hours=1), {})
    assert cells.served == {("candidate", "json", 25.0, 7): 3}
