"""Helpers for reading OpenAI responses in tests."""

from __future__ import annotations

import json
from typing import Any


def sse_events(raw: str) -> list[Any]:
    """Decoded `data:` payloads of an SSE body ('[DONE]' kept as a string)."""
    events: list[Any] = []
    for block in raw.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def stream_text(events: list[Any]) -> str:
    """Concatenated content of chat or completion chunks."""
    parts = []
    for event in events:
        if isinstance(event, dict):
            for choice in event.get("choices", []):
                parts.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return "".join(parts)


def finish_reasons(events: list[Any]) -> list[str]:
    """Non-null finish reasons in stream order."""
    return [c["finish_reason"] for e in events if isinstance(e, dict) for c in e.get("choices", [])
            if c.get("finish_reason")]


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
