"""`quantgate shadow ls|show`: which prompts flipped after a ship, in which category."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    pass

from gateway.cli.admin_client import AdminApiError
from gateway.cli.admin_target import AdminConfig, AdminToken, AdminUrl, admin_client
from gateway.cli.console import command_group, console, fail
from gateway.cli.fitted_table import Column, cell_text, fitted_table

_LIST_COLUMNS = (Column("id", justify="right"), Column("time"), Column("category"), Column("primary"),
                 Column("similarity", justify="right"), Column("tail sim", justify="right"),
                 Column("len ratio", justify="right"), Column("flips", wraps=True))
shadow_app = command_group("Browse stored shadow comparisons.")



def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@shadow_app.command("ls")
def shadow_ls(
    since: Annotated[Optional[str], typer.Option(help="ISO time or duration back (24h, 30m).")] = "24h",
    category: Annotated[Optional[str], typer.Option(help="Only this category.")] = None,
    flips_only: Annotated[bool, typer.Option("--flips-only", help="Only pairs whose detectors disagree.")] = False,
    limit: Annotated[int, typer.Option(help="Page size.")] = 30,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    url: AdminUrl = None,
    token: AdminToken = None,
    config: AdminConfig = None,
) -> None:
    """List comparisons, newest first."""
    try:
        page = admin_client(url, token, config).comparisons(
            since=since, category=category, flips_only=str(flips_only).lower(), limit=limit, offset=offset)
    except AdminApiError as exc:
        fail(str(exc))
    rows = []
    for row in page["comparisons"]:
        flips = [f"{kind}:{row[kind + '_flip']}" for kind in ("refusal", "format", "repetition") if row[kind + "_flip"]]
        rows.append((str(row["id"]), row["created_at"][:19].replace("T", " "), row["category"],
                     row["primary_variant"], _fmt(row["similarity"]), _fmt(row["similarity_tail"]),
                     _fmt(row["length_ratio"]), ", ".join(flips) or "-"))
    out = console.rich()
    out.print(fitted_table(out, f"Shadow comparisons ({page['total']} matching)", _LIST_COLUMNS, rows,
                           heading_columns=3))


@shadow_app.command("show")
def shadow_show(record_id: int, url: AdminUrl = None, token: AdminToken = None,
                   config: AdminConfig = None) -> None:
    """Everything about one comparison."""
    try:
        record = admin_client(url, token, config).comparison(record_id)
    except AdminApiError as exc:
        fail(str(exc))
    rows = [(field, json.dumps(record[f"baseline_{field}"], indent=1), json.dumps(record[f"candidate_{field}"],
                                                                                    indent=1))
            for field in ("stamp", "judgement")]
    rows += [(field, _fmt(record.get(f"baseline_{field}")), _fmt(record.get(f"candidate_{field}")))
             for field in ("ttft_s", "total_s", "output_tokens", "text")]
    out = console.rich()
    # Answers and prompts are model and client text: escaped like every other cell.
    out.print(fitted_table(out, f"Comparison {record_id} ({record['category']}, request {record['request_id']})",
                           (Column("field"), Column("baseline", wraps=True), Column("candidate", wraps=True)), rows))
    for field in ("similarity", "similarity_head", "similarity_tail", "first_divergence", "length_ratio",
                  "refusal_flip", "format_flip", "repetition_flip"):
        out.print(cell_text(f"{field}: {_fmt(record[field])}"))
    if record.get("prompt_text"):
        out.print(cell_text(f"prompt: {record['prompt_text']}"))
