"""Rich renderings shared by the CLI commands and the demo."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table


def flags_table(flags: dict[str, Any]) -> Table:
    """The flag set as a two-column table."""
    table = Table(title=f"Flags (version {flags.get('version')})", show_header=True)
    table.add_column("flag")
    table.add_column("value")
    for name in ("rollout_percent", "shadow_percent", "rollback", "category_overrides", "salt", "updated_at",
                 "source"):
        if name in flags:
            value = flags[name]
            table.add_row(name, json.dumps(value) if isinstance(value, dict) else str(value))
    return table


def audit_table(entries: list[dict[str, Any]], title: str = "Flag audit trail") -> Table:
    """Audit entries, oldest first (as they happened)."""
    table = Table(title=title)
    for column in ("version", "at", "flag", "old", "new", "actor", "reason"):
        table.add_column(column)
    for entry in sorted(entries, key=lambda e: e["id"]):
        table.add_row(str(entry["version"]), entry["at"][:19].replace("T", " "), entry["flag"],
                      _compact(entry["old_value"]), _compact(entry["new_value"]), entry["actor"], entry["reason"])
    return table


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 48 else text[:45] + "..."
