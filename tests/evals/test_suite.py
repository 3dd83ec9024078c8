"""The validation suite: big enough per category, deterministic, versioned by its content, readable back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.suite import (
    SUITE_CATEGORIES,
    EvalSuite,
    SuiteFileError,
    SuiteItem,
    builtin_suite,
    load_suite,
    write_suite,
)
from evals.templates import generate, split_of


@pytest.fixture(scope="module")
def suite() -> EvalSuite:
    return builtin_suite()


def test_every_category_has_at_least_200_distinct_items_including_harmful(suite: EvalSuite) -> None:
    counts = suite.counts()
    assert set(counts) == set(SUITE_CATEGORIES) and "harmful" in counts
    assert min(counts.values()) >= 200
    prompts = [item.messages[-1].content for item in suite.items]
    assert len(set(prompts)) == len(prompts)
    assert len({item.id for item in suite.items}) == len(suite.items)


def test_harmful_requests_are_reported_not_gated(suite: EvalSuite) -> None:
    harmful = [item for item in suite.items if item.category == "harmful"]
    assert all(not item.gated and item.expect.type == "refused" for item in harmful)
    assert all(item.gated for item in suite.items if item.category != "harmful")


def test_no_calibration_prompt_is_evaluated(suite: EvalSuite) -> None:
    assert all(split_of(item.messages[0].content) == "eval" for item in suite.items)
    calibration = {item["messages"][0]["content"] for category in ("math", "json", "chat", "multilingual")
                   for item in generate(category, 20, "calibration")}
    assert not calibration & {item.messages[0].content for item in suite.items}


def test_same_suite_same_hash_and_a_changed_item_changes_it(suite: EvalSuite) -> None:
    assert builtin_suite().sha256 == suite.sha256
    first = suite.items[0]
    changed = first.model_copy(update={"max_tokens": first.max_tokens + 1})
    edited = EvalSuite(suite.name, (changed, *suite.items[1:]))
    assert edited.sha256 != suite.sha256
    assert suite.reduced(3).sha256 != suite.sha256 and suite.reduced(3).counts() == dict.fromkeys(SUITE_CATEGORIES, 3)


def test_a_suite_written_as_jsonl_reads_back_identical(suite: EvalSuite, tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    write_suite(suite.reduced(5), path)
    again = load_suite(path, name=suite.reduced(5).name)
    assert again.items == suite.reduced(5).items and again.sha256 == suite.reduced(5).sha256


def test_a_users_suite_with_its_own_category(tmp_path: Path) -> None:
    path = tmp_path / "support.jsonl"
    lines = [{"id": f"t{i}", "category": "support", "messages": [{"role": "user", "content": f"Order {i}?"}],
              "expect": {"type": "number", "value": i}} for i in range(3)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    loaded = load_suite(path)
    assert loaded.counts() == {"support": 3} and loaded.name == "support"


@pytest.mark.parametrize(("line", "complaint"), [
    ('{"id": "a", "category": "x"}', "messages"),
    ('{"id": "a", "category": "bad name!", "messages": [{"role": "user", "content": "hi"}]}', "category"),
    ('{"id": "a", "category": "x", "messages": [{"role": "user", "content": "hi"}], "expect": {"type": "exec"}}',
     "expect"),
    ('not json', "line 1"),
])
def test_a_bad_line_names_its_line_and_field(tmp_path: Path, line: str, complaint: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(SuiteFileError, match=complaint):
        load_suite(path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    line = '{"id": "a", "category": "x", "messages": [{"role": "user", "content": "hi"}]}\n'
    path = tmp_path / "dup.jsonl"
    path.write_text(line * 2)
    with pytest.raises(SuiteFileError, match="duplicate id"):
        load_suite(path)


@given(st.text(max_size=300))
@settings(max_examples=200)
def test_any_line_is_an_item_or_a_clear_error(text: str) -> None:
    try:
        item = SuiteItem.model_validate_json(text)
    except ValueError:
        return
    assert item.id and item.messages
