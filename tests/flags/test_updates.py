"""Flag updates as the admin API validates them: what the OpenAPI schema allows is what the model accepts."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from flags.updates import FlagUpdate


def test_an_integral_float_version_is_the_integer_and_strings_or_booleans_are_not() -> None:
    assert FlagUpdate(reason="r", expected_version=12.0).expected_version == 12  # type: ignore[arg-type]
    for bad in ("12", True, 12.5):
        with pytest.raises(ValidationError):
            FlagUpdate(reason="r", expected_version=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["json\n", "", "x" * 65, "sp ace"])
def test_override_names_are_whole_matches(name: str) -> None:
    with pytest.raises(ValidationError):
        FlagUpdate(reason="r", category_overrides={name: "baseline"})  # type: ignore[dict-item]


def test_a_blank_reason_is_refused_and_the_schema_says_so() -> None:
    with pytest.raises(ValidationError):
        FlagUpdate(reason=" \t")
    pattern = re.compile(FlagUpdate.model_json_schema()["properties"]["reason"]["pattern"])
    # The schema's pattern says what the model enforces: something besides whitespace, no control characters.
    assert pattern.search("roll back: refusals up") and not pattern.search(" \t")
    for control in ("\x1b[2J", "a\nb", "\x00", "\x9b", "\u202e"):
        assert not pattern.search(f"reason {control}")
        with pytest.raises(ValidationError, match="control characters"):
            FlagUpdate(reason=f"reason {control}")
