"""The validation suite: category-tagged prompts with references a small model can be scored on.

One JSON object per line (`id`, `category`, `messages`, `max_tokens`, optional `response_format`, `expect`,
optional `gated`), so a team can add its own suite in the same format. A suite is identified by its content
hash: change one item and it is another suite, and a validation run on the old one no longer names it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evals import prompts_extra, templates

BUILTIN_NAME = "quantgate-builtin"
BUILTIN_PER_CATEGORY = 200
SUITE_CATEGORIES = ("math", "json", "multilingual", "benign-sensitive", "harmful", "long", "code", "chat")
# Answer budgets of the built-in suite: long answers need room to drift, the rest are short by design.
MAX_TOKENS = {"long": 256, "code": 192}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ExpectType = Literal["number", "json_fields", "python", "min_words", "language", "not_refused", "refused", "none"]


class Expectation(BaseModel):
    """How an answer is scored: the reference value and the kind of check."""

    model_config = ConfigDict(extra="forbid")
    type: ExpectType
    value: Any = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class Message(BaseModel):
    """One chat message of a suite item."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=32_000)


class SuiteItem(BaseModel):
    """One prompt of a suite, as read from a JSONL line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=128)
    category: str
    messages: list[Message] = Field(min_length=1, max_length=64)
    max_tokens: int = Field(default=128, ge=1, le=8192)
    response_format: dict[str, Any] | None = None
    expect: Expectation = Field(default_factory=lambda: Expectation(type="none"))
    # False: scored and reported, never the reason a validation fails (e.g. refusing harmful requests, which
    # is not required of a small model).
    gated: bool = True

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("category must be 1-64 of [A-Za-z0-9_.:-]")
        return value

    def payload(self) -> dict[str, Any]:
        """The item as JSON (the line it is stored as)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class EvalSuite:
    """A named, hashed list of items."""

    name: str
    items: tuple[SuiteItem, ...]

    @property
    def sha256(self) -> str:
        """Hash of the items' canonical JSON, in order: the suite's version."""
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(json.dumps(item.payload(), sort_keys=True, ensure_ascii=False).encode() + b"\n")
        return digest.hexdigest()

    @property
    def version(self) -> str:
        """Name plus content hash, as validation records and cards name the suite."""
        return f"{self.name}@{self.sha256[:12]}"

    def counts(self) -> dict[str, int]:
        """Items per category."""
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.category] = counts.get(item.category, 0) + 1
        return counts

    def reduced(self, per_category: int) -> EvalSuite:
        """The first `per_category` items of each category (a smoke run; its hash is its own)."""
        taken: dict[str, int] = {}
        kept = []
        for item in self.items:
            if taken.get(item.category, 0) < per_category:
                taken[item.category] = taken.get(item.category, 0) + 1
                kept.append(item)
        return EvalSuite(f"{self.name}-first{per_category}", tuple(kept))


def _generated(category: str, count: int) -> list[dict[str, Any]]:
    """`count` distinct eval-split prompts from the extra templates (same scheme as `templates.generate`)."""
    rng = random.Random(f"quantgate:suite:{category}")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(count * 50):
        item = prompts_extra.GENERATORS[category](rng)
        key = item["messages"][0]["content"]
        if key in seen or templates.split_of(key) != "eval":
            continue
        seen.add(key)
        items.append({"id": f"suite-{category}-{len(items) + 1:04d}", "category": category, **item})
        if len(items) == count:
            return items
    raise ValueError(f"{category}: only {len(items)} distinct prompts for {count} asked")


def builtin_suite(per_category: int = BUILTIN_PER_CATEGORY) -> EvalSuite:
    """The suite shipped with quantgate, generated deterministically (same arguments, same hash)."""
    items: list[SuiteItem] = []
    for category in SUITE_CATEGORIES:
        if category in prompts_extra.GENERATORS:
            raw = _generated(category, per_category)
        else:
            raw = templates.generate(category, per_category, "eval")
        for entry in raw:
            entry = {**entry, "max_tokens": min(entry.get("max_tokens", 128), MAX_TOKENS.get(category, 8192))}
            if category == "harmful":
                entry["gated"] = False
            items.append(SuiteItem.model_validate(entry))
    name = BUILTIN_NAME if per_category == BUILTIN_PER_CATEGORY else f"{BUILTIN_NAME}-{per_category}"
    return EvalSuite(name, tuple(items))


class SuiteFileError(ValueError):
    """A suite file that cannot be used, with the line that is wrong."""


def load_suite(path: Path, name: str | None = None) -> EvalSuite:
    """Read a JSONL suite; every line is validated and ids must be unique."""
    items: list[SuiteItem] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = SuiteItem.model_validate_json(line)
            except ValidationError as exc:
                raise SuiteFileError(f"{path}:{number}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
            if item.id in seen:
                raise SuiteFileError(f"{path}:{number}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise SuiteFileError(f"{path}: no items")
    return EvalSuite(name or path.stem, tuple(items))


def write_suite(suite: EvalSuite, path: Path) -> None:
    """Write a suite as JSONL (the format `load_suite` reads)."""
    path.write_text("".join(json.dumps(item.payload(), ensure_ascii=False) + "\n" for item in suite.items),
                    encoding="utf-8")
