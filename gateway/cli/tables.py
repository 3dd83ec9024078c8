"""Rich renderings shared by the CLI commands and the demo."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table




def flags_table(flags: dict[str, Any]) -> Table:
    """The flag set as a two-column table."""
    from rich.table import Table

    table = Table(title=f"Flags (version {flags.get('version')})", show_header=True)
    table.add_column("flag")
    table.add_column("value")
    for name in ("rollout_percent", "shadow_percent", "rollback", "category_overrides", "salt", "updated_at",
                 "source"):
        if name in flags:
            value = flags[name]
            table.add_row(name, json.dumps(value) if isinstance(value, dict) else str(value))
    return table


def flags_summary(flags: dict[str, Any]) -> str:
    """The flag set on one line (what `flags set` confirms: plain text, so the command never loads Rich)."""
    pins = flags.get("category_overrides") or {}
    parts = [f"rollout {flags.get('rollout_percent'):g}%", f"shadow {flags.get('shadow_percent'):g}%",
             "ROLLBACK ACTIVE" if flags.get("rollback") else "rollback off",
             f"pins {json.dumps(pins, sort_keys=True)}" if pins else "no pins"]
    return f"flags version {flags.get('version')}: " + ", ".join(parts)


# The audit's flag names, short enough for a narrow column (`quantgate audit --flag` takes the long ones).
SHORT_FLAG_NAMES = {"rollout_percent": "rollout %", "shadow_percent": "shadow %", "category_overrides": "pins"}


def audit_table(entries: list[dict[str, Any]], title: str = "Flag audit trail") -> Table:
    """Audit entries, oldest first (as they happened)."""
    from rich.table import Table

    table = Table(title=title)
    # Readable at 80 columns: the version and the time (month-day and clock; the year is the title's business)
    # never wrap; values fold, the reason takes what is left.
    table.add_column("v", no_wrap=True, justify="right")
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("flag", overflow="fold")
    table.add_column("old", overflow="fold", max_width=18)
    table.add_column("new", overflow="fold", max_width=18)
    table.add_column("actor", overflow="fold", max_width=14)
    table.add_column("reason", ratio=1, overflow="fold")
    for entry in sorted(entries, key=lambda e: e["id"]):
        table.add_row(str(entry["version"]), entry["at"][5:19].replace("T", " "),
                      SHORT_FLAG_NAMES.get(entry["flag"], entry["flag"]),
                      _compact(entry["old_value"]), _compact(entry["new_value"]), entry["actor"], entry["reason"])
    return table


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 48 else text[:45] + "..."
