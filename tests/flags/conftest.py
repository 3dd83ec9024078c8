"""The store's tests run on both databases it supports."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at this version's schema: SQLite in the test's folder (migrated on first use), or a fresh
    PostgreSQL database migrated explicitly, as an operator would with `quantgate db upgrade`."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    from gateway.cli.main import app as cli

    url: str = request.getfixturevalue("postgres_url")
    result = CliRunner().invoke(cli, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    return url
