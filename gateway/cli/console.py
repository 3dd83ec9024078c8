"""The CLI's Rich console, made when something is printed: `quantgate rollback` prints one line without Rich."""

from __future__ import annotations

from typing import Any


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
