"""Run the fault suite and print its figures: `python -m bench.faults` (starts its own PostgreSQL and simulators)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from bench.faults import scenarios
from bench.postgres import postgres_server
from gateway.cli.main import app as cli


async def _all(workdir: Path) -> dict[str, object]:
    figures: dict[str, object] = {
        "kill_candidate": await scenarios.kill_candidate_under_load(workdir / "kill"),
        "hung_shadow": await scenarios.hung_shadow_under_load(workdir / "shadow"),
        "disconnects": await scenarios.disconnecting_clients(workdir / "disconnects"),
        "sigterm": await scenarios.sigterm_with_live_streams(workdir / "sigterm"),
    }
    with postgres_server() as pg:
        CliRunner().invoke(cli, ["db", "upgrade", "--url", pg.url])
        figures["flag_store"] = await scenarios.flag_store_faults_under_load(workdir / "store", pg)
    return figures


def main() -> None:
    """Print every scenario's figures as JSON."""
    with tempfile.TemporaryDirectory(prefix="quantgate-faults-") as tmp:
        print(json.dumps(asyncio.run(_all(Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
