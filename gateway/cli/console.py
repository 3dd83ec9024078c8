"""The CLI's Rich console, made when something is printed: `quantgate rollback` prints one line without Rich."""

from __future__ import annotations

from typing import Any, NoReturn

import typer


class LazyConsole:
    """Forwards `print` to a Rich console; Rich is imported on the first call."""

    def rich(self) -> Any:
        """A Rich console sized for the terminal as it is now (a fresh one: sizing is read when it is made)."""
        from rich.console import Console

        return Console()

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Rich's `Console.print`."""
        self.rich().print(*objects, **kwargs)


console = LazyConsole()


def command_group(help_text: str) -> typer.Typer:
    """A Typer app with Click's plain help: it wraps at the terminal's width instead of cutting option help,
    environment variable names and defaults to `…` in Rich's boxed panels (unreadable at 80 columns)."""
    return typer.Typer(rich_markup_mode=None, help=help_text, no_args_is_help=True)


def fail(message: str) -> NoReturn:
    """Print `error: message` (escaped: it may quote what a client or the server said) and exit with status 1."""
    from rich.text import Text

    from wire.terminal_text import escape_controls

    console.print(Text.assemble(("error: ", "red"), escape_controls(message)))
    raise typer.Exit(1)
