"""Renderings shared by the CLI commands and the demo: flags, the audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway.cli.fitted_table import Column, fitted_table

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def pins_text(pins: dict[str, Any] | None) -> str:
    """Category pins as `json=baseline, math=candidate` (sorted), or `none`."""
    return key_values(pins or {})


def key_values(mapping: dict[str, Any]) -> str:
    """A mapping as `key=value, key=value` (sorted), or `none`."""
    return ", ".join(f"{name}={_value_text(item)}" for name, item in sorted(mapping.items())) or "none"


def _value_text(value: Any) -> str:
    """A flag value as an operator reads it: mappings as `key=value` lists, strings bare, the rest as JSON."""
    if isinstance(value, dict):
        return key_values(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


_FLAG_ROWS = ("rollout_percent", "shadow_percent", "rollback", "category_overrides", "salt", "updated_at", "source")


def flags_table(console: Console, flags: dict[str, Any]) -> RenderableType:
    """The flag set, one flag a row."""
    rows = [(name, _value_text(flags[name])) for name in _FLAG_ROWS if name in flags]
    return fitted_table(console, f"Flags (version {flags.get('version')})",
                        (Column("flag"), Column("value", wraps=True)), rows)


def flags_summary(flags: dict[str, Any]) -> str:
    """The flag set on one line (what `flags set` confirms: plain text, so the command never loads Rich)."""
    pins = flags.get("category_overrides") or {}
    parts = [f"rollout {flags.get('rollout_percent'):g}%", f"shadow {flags.get('shadow_percent'):g}%",
             "ROLLBACK ACTIVE" if flags.get("rollback") else "rollback off",
             f"pins {pins_text(pins)}" if pins else "no pins"]
    return f"flags version {flags.get('version')}: " + ", ".join(parts)


# The audit's flag names, short enough for a narrow column (`quantgate audit --flag` takes the long ones).
SHORT_FLAG_NAMES = {"rollout_percent": "rollout %", "shadow_percent": "shadow %", "category_overrides": "pins"}
_AUDIT_COLUMNS = (Column("v", justify="right"), Column("at (UTC)"), Column("flag"), Column("old", wraps=True),
                  Column("new", wraps=True), Column("actor", wraps=True), Column("reason", wraps=True))


def audit_table(console: Console, entries: list[dict[str, Any]], title: str = "Flag audit trail") -> RenderableType:
    """Audit entries, oldest first (as they happened); one block per entry when the terminal is narrow."""
    rows = [(f"v{entry['version']}", entry["at"][5:19].replace("T", " "),
             SHORT_FLAG_NAMES.get(entry["flag"], entry["flag"]), _value_text(entry["old_value"]),
             _value_text(entry["new_value"]), entry["actor"], entry["reason"])
            for entry in sorted(entries, key=lambda e: e["id"])]
    return fitted_table(console, title, _AUDIT_COLUMNS, rows, heading_columns=3)


_VALIDATION_COLUMNS = (Column("category"), Column("outcome"), Column("not shown within tolerance", wraps=True))


def validation_table(console: Console, summary: dict[str, Any], result: dict[str, Any]) -> RenderableType:
    """One line per category of a validation (the card has every test); the CLI's and the demo's."""
    rows = []
    for category, outcome in sorted(result["categories"].items()):
        open_tests = [f"{v['metric']} ({v['verdict']})" for v in result["report"]["verdicts"]
                      if v["category"] == category and v["verdict"] not in ("ok", "improvement")]
        gated = "" if category in result["gated"] else " (reported)"
        rows.append((category, outcome + gated, ", ".join(open_tests) or "-"))
    return fitted_table(console, f"validation #{summary['id']}: {summary['outcome']}", _VALIDATION_COLUMNS, rows,
                        heading_columns=1)
