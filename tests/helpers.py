"""Helpers for reading OpenAI responses in tests, and for running `quantgate validate` against a test gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner


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


def gateway_config(settings: Any, tmp_path: Path) -> Path:
    """A gateway's own settings as a YAML file, as an operator would pass it to `quantgate validate`."""
    data = {"flag_store_url": settings.flag_store_url, "policy_file": settings.policy_file,
            **{v: {"name": b.name, "base_url": b.base_url, "served_model_name": b.served_model_name,
                   "stamp": b.stamp.model_dump(), "hourly_cost_usd": b.hourly_cost_usd}
               for v, b in (("baseline", settings.baseline), ("candidate", settings.candidate))}}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def run_validate(settings: Any, tmp_path: Path, per_category: int, *extra: str) -> tuple[int, str]:
    """`quantgate validate` on the gateway's backends (exit code, output); its record lands in the gateway's store.
    The performance stage and the early warning are off unless `extra` asks for them
    (tests/gateway/cli/test_validate_performance.py)."""
    from gateway.cli.main import app

    timing = ([] if "--performance" in extra else ["--no-performance"]) + \
        ([] if "--early-warning" in extra else ["--no-early-warning"])
    args = ["validate", "--config", str(gateway_config(settings, tmp_path)), "--per-category", str(per_category),
            "--concurrency", "8", "--cache-dir", str(tmp_path / "answers"), "--card-dir", str(tmp_path / "cards"),
            "--actor", "ml-carol", *timing, *extra]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env={"COLUMNS": "100"})
    return result.exit_code, result.output
