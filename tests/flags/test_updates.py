"""Flag updates as the admin API validates them: what the OpenAPI schema allows is what the model accepts."""

from __future__ import annotations

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
    assert FlagUpdate.model_json_schema()["properties"]["reason"]["pattern"] == r"\S"
