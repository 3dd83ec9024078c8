"""Generated prompt sets: deterministic, disjoint between splits, balanced, in the shared prompt file's shape."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.templates import CATEGORIES, generate, mixed, split_of

SHARED_KEYS = {"id", "category", "messages", "max_tokens", "expect"}


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_arguments_give_the_same_prompts(category: str) -> None:
    assert generate(category, 40) == generate(category, 40)
    assert generate(category, 40)[:10] == generate(category, 10)


@pytest.mark.parametrize("category", CATEGORIES)
def test_calibration_prompts_are_never_evaluated(category: str) -> None:
    evaluated = {item["messages"][0]["content"] for item in generate(category, 50, "eval")}
    calibration = {item["messages"][0]["content"] for item in generate(category, 10, "calibration")}
    assert evaluated and calibration and not evaluated & calibration


@given(st.text(min_size=1, max_size=200))
@settings(max_examples=200)
def test_every_text_has_exactly_one_split(text: str) -> None:
    assert split_of(text) in ("eval", "calibration")


def test_items_have_the_shared_prompt_files_shape() -> None:
    shared = json.loads(Path("gateway/demo/data/mixed.jsonl").read_text().splitlines()[0])
    for item in mixed(3):
        assert SHARED_KEYS <= item.keys() <= SHARED_KEYS | {"response_format"}
        assert set(shared) - {"response_format", "temperature"} <= set(item)
        assert item["messages"][0]["role"] == "user" and item["messages"][0]["content"].strip()


def test_mixed_interleaves_categories_so_any_prefix_is_balanced() -> None:
    first = [item["category"] for item in islice(mixed(5), len(CATEGORIES))]
    assert first == list(CATEGORIES)
    assert len({item["id"] for item in mixed(50)}) == 50 * len(CATEGORIES)


def test_a_split_that_cannot_supply_enough_distinct_prompts_says_so() -> None:
    with pytest.raises(ValueError, match="distinct prompts"):
        generate("chat", 10_000)
    with pytest.raises(ValueError, match="split"):
        generate("chat", 1, "train")


def test_math_references_are_right() -> None:
    for item in generate("math", 100):
        text = item["messages"][0]["content"]
        numbers = [int(t.strip("?.")) for t in text.split() if t.strip("?.").isdigit()]
        if "+" in text:
            assert item["expect"]["value"] == numbers[0] + numbers[1]
        elif "*" in text:
            assert item["expect"]["value"] == numbers[0] * numbers[1]
        elif "-" in text:
            assert item["expect"]["value"] == numbers[0] - numbers[1]
        else:
            assert item["expect"]["value"] == numbers[0] * numbers[1]
