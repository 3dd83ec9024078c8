"""The calibration set: the project's own category-tagged prompts, chat-formatted, from a split never evaluated."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class CalibrationSet:
    """What GPTQ and SmoothQuant saw, and how to name it in a provenance stamp."""

    name: str
    texts: list[str]
    max_seq_length: int

    @property
    def sha256(self) -> str:
        """Content hash of the exact texts, in order."""
        return hashlib.sha256(json.dumps(self.texts, ensure_ascii=False).encode()).hexdigest()

    def describe(self) -> dict[str, object]:
        """The stamp's calibration fields."""
        return {"name": self.name, "samples": len(self.texts), "max_seq_length": self.max_seq_length,
                "sha256": self.sha256, "source": "evals.templates split 'calibration' (disjoint from 'eval')"}


def build(tokenizer, samples: int = 64, max_seq_length: int = 512) -> CalibrationSet:  # type: ignore[no-untyped-def]
    """`samples` prompts spread evenly over the categories, rendered with the model's chat template."""
    sys.path.insert(0, str(ROOT))
    from evals.templates import CATEGORIES, generate

    per_category = -(-samples // len(CATEGORIES))
    columns = [generate(category, per_category, "calibration") for category in CATEGORIES]
    items = [item for row in zip(*columns, strict=True) for item in row][:samples]
    texts = [tokenizer.apply_chat_template(item["messages"], tokenize=False, add_generation_prompt=True)
             for item in items]
    return CalibrationSet(f"quantgate-mixed-calibration-{samples}", texts, max_seq_length)


def as_dataset(calibration: CalibrationSet, tokenizer) -> Dataset:  # type: ignore[no-untyped-def]
    """Tokenized rows for llm-compressor's `oneshot` (the chat template already added the special tokens)."""
    encoded = [tokenizer(text, add_special_tokens=False, truncation=True, max_length=calibration.max_seq_length)
               for text in calibration.texts]
    return Dataset.from_dict({"input_ids": [e["input_ids"] for e in encoded],
                              "attention_mask": [e["attention_mask"] for e in encoded]})
