"""Comparison records: retention purge, redaction hook, query filters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flags.comparisons import ComparisonQuery, ComparisonStore, ShadowComparisonRow
from flags.model import utcnow
from shadow.redaction import default_redactor, load_redactor


def _row(category: str, age: timedelta, flip: str | None = None) -> ShadowComparisonRow:
    return ShadowComparisonRow(
        request_id=f"r-{category}-{age}", created_at=utcnow() - age, category=category, routing_key_hash="h",
        primary_variant="baseline", baseline_stamp_json="{}", candidate_stamp_json="{}",
        baseline_judgement_json="{}", candidate_judgement_json="{}", exact_match=flip is None, similarity=0.9,
        similarity_head=0.95, refusal_flip=flip, any_flip=flip is not None, baseline_total_s=1, candidate_total_s=1)


@pytest.fixture
def store(tmp_path: Path) -> ComparisonStore:
    return ComparisonStore(f"sqlite:///{tmp_path / 'c.db'}")


def test_purge_deletes_only_rows_past_retention(store: ComparisonStore) -> None:
    store.insert_many([_row("json", timedelta(days=10)), _row("json", timedelta(hours=1)),
                       _row("math", timedelta(days=8))])
    assert store.purge_older_than(timedelta(days=7)) == 2
    total, rows = store.query(ComparisonQuery())
    assert total == 1 and rows[0].category == "json"


def test_query_filters(store: ComparisonStore) -> None:
    store.insert_many([_row("json", timedelta(hours=30)), _row("json", timedelta(hours=1), "candidate_worse"),
                       _row("math", timedelta(minutes=5))])
    assert store.query(ComparisonQuery(category="json"))[0] == 2
    assert store.query(ComparisonQuery(flips_only=True))[0] == 1
    assert store.query(ComparisonQuery(since=utcnow() - timedelta(hours=2)))[0] == 2
    assert len(store.query(ComparisonQuery(limit=1, offset=1))[1]) == 1


def test_default_redaction() -> None:
    text = "Contact bob@corp.io or +44 20 7946 0958, token sk-proj-abcdefghijklmnopqrstuv, AKIAABCDEFGHIJKLMNOP"
    redacted = default_redactor(text)
    for secret in ("bob@corp.io", "7946", "sk-proj", "AKIA"):
        assert secret not in redacted
    assert "The year 2024 had 365 days" == default_redactor("The year 2024 had 365 days")


def test_redaction_hook_by_import_path() -> None:
    assert load_redactor("none")("a@b.co") == "a@b.co"
    assert load_redactor("shadow.redaction:default_redactor")("x a@b.co") == "x [EMAIL]"
    for bad in ("not-a-path", "no.such.module:f", "shadow.redaction:missing"):
        with pytest.raises(ValueError):
            load_redactor(bad)
