"""Stored feedback on both databases: one row per (answer's token, signal) and per idempotency key, in one batch
or across batches, and per-row answers saying which were new."""

from __future__ import annotations

from datetime import timedelta

from flags.feedback_store import FeedbackRow, FeedbackStore
from flags.model import utcnow


def _row(token: str, signal: str = "thumbs_down", key: str | None = None, category: str = "json") -> FeedbackRow:
    now = utcnow()
    return FeedbackRow(received_at=now, issued_at=now - timedelta(seconds=5), variant="candidate", category=category,
                       candidate_share=50.0, key_group=3, signal=signal, token_sha256=token.ljust(64, "0"),
                       idempotency_key=key)


def test_each_signal_about_an_answer_is_kept_once(database_url: str) -> None:
    store = FeedbackStore(database_url)
    first = store.insert_new([_row("a"), _row("a", "escalated"), _row("b", key="k1"), _row("a")])
    # The same token and signal twice in one batch: the second is the duplicate.
    assert first == [True, True, True, False]
    again = store.insert_new([_row("a"), _row("c", key="k1"), _row("d", category="chat")])
    assert again == [False, False, True]
    tally = {(t.category, t.signal): t.count for t in store.tally()}
    assert tally == {("json", "thumbs_down"): 2, ("json", "escalated"): 1, ("chat", "thumbs_down"): 1}
    store.engine.dispose()


def test_answers_served_add_up_per_cell_and_signals_count_from_the_window(database_url: str) -> None:
    store = FeedbackStore(database_url)
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    cell = ("candidate", "json", 50.0, 3)
    store.add_served(hour, {cell: 5, ("baseline", "json", 50.0, 3): 4})
    store.add_served(hour, {cell: 2})  # another worker's write to the same hour: added, not replaced
    store.add_served(hour - timedelta(hours=2), {cell: 100})  # before the window
    low, high = _row("low"), _row("high", signal="csat")
    low.signal, low.value, high.value = "csat", 1.0, 5.0
    store.insert_new([_row("e"), low, high])
    # The window opens at the previous hour: signals issued a few seconds ago are inside it at any minute.
    cells = store.cells(hour - timedelta(minutes=30), {"thumbs_down": None, "csat": 2.0})
    assert cells.served == {cell: 7, ("baseline", "json", 50.0, 3): 4}
    # A score counts only at or below its low mark; an event always.
    assert cells.signals == {"thumbs_down": {cell: 1}, "csat": {cell: 1}}
    store.engine.dispose()
