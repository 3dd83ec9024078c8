"""Tables that stay readable in any terminal: a grid when it fits, key/value blocks when it does not.

During an incident the terminal is often half a laptop screen (80 columns). Rich shrinks a table that is too wide
until its headers read `cate…` and its cells break mid-word; `kubectl describe` answers the same problem with one
block per object. Every cell goes through `escape_controls` and is a `Text` (never markup), so what a client or an
operator typed cannot move the cursor, retitle the window or style the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wire.terminal_text import escape_controls

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

# A cell longer than this wraps inside a grid column; the table is judged at this width for such cells.
_WRAP_AT = 40


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header, and how its cells may be laid out in a grid."""

    header: str
    justify: str = "left"
    # Cells of a wrapping column may take several lines in a grid (reasons, messages); others stay on one.
    wraps: bool = False


def cell_text(value: Any, style: str = "") -> Text:
    """A cell as plain text with its control characters escaped (markup in it is shown, not obeyed)."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text(escape_controls("-" if value is None else str(value)), style=style)


def _grid_width(columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> int:
    """Width the grid needs to show every header whole and every cell without folding a word."""
    total = 1
    for index, column in enumerate(columns):
        widest = len(column.header)
        for row in rows:
            plain = row[index].plain
            longest_line = max((len(line) for line in plain.splitlines()), default=0)
            if column.wraps:
                longest_word = max((len(word) for word in plain.split()), default=0)
                widest = max(widest, min(longest_line, max(_WRAP_AT, longest_word)))
            else:
                widest = max(widest, longest_line)
        total += widest + 3
    return total


def fitted_table(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
                 heading_columns: int = 1) -> RenderableType:
    """A Rich table when it fits `console.width`, else one key/value block per row under a heading.

    The heading of a block is its first `heading_columns` cells joined by " · "; the rest are `header  value`
    lines, values wrapped at words under their own indent.
    """
    texts = [[cell_text(value) for value in row] for row in rows]
    if _grid_width(columns, texts) <= console.width:
        return _grid(title, columns, texts)
    return _blocks(title, columns, texts, heading_columns)


def _grid(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> RenderableType:
    from rich.table import Table

    table = Table(title=cell_text(title), title_justify="left")
    for column in columns:
        table.add_column(column.header, justify=column.justify,  # type: ignore[arg-type]
                         no_wrap=not column.wraps, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _blocks(title: str, columns: Sequence[Column], rows: Sequence[Sequence[Text]],
            heading_columns: int) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[RenderableType] = [cell_text(title, "bold")]
    key_width = max(len(column.header) for column in columns[heading_columns:]) if len(columns) > heading_columns \
        else 1
    for row in rows:
        heading = Text(" · ").join(row[:heading_columns])
        heading.stylize("bold")
        parts.append(Text(""))
        parts.append(heading)
        block = Table.grid(padding=(0, 2))
        block.add_column(no_wrap=True, min_width=key_width, style="dim")
        block.add_column(overflow="fold")
        for column, value in zip(columns[heading_columns:], row[heading_columns:], strict=True):
            block.add_row(column.header, value)
        parts.append(block)
    return Group(*parts)
