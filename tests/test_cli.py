"""The `quantgate` admin commands against a running gateway."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from typer.testing import CliRunner

from gateway.cli.main import app
from tests.conftest import ADMIN_TOKEN, Gateway


async def _quantgate(*args: str, columns: int = 200) -> tuple[int, str]:
    # The gateway serves from this event loop, so the synchronous CLI runs in a thread.
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


async def test_flags_set_show_rollback_audit(gateway: Gateway) -> None:
    auth = ["--url", gateway.url, "--token", ADMIN_TOKEN]
    code, out = await _quantgate("flags", "set", "--rollout", "25", "--pin", "json=baseline",
                                 "--reason", "canary start", *auth)
    assert code == 0, out
    assert "rollout 25%" in out and 'pins json=baseline' in out
    code, out = await _quantgate("rollback", "--reason", "format breaks", *auth)
    assert code == 0 and "rollback active" in out
    assert gateway.runtime.flags.flags.rollback is True
    code, out = await _quantgate("audit", *auth)
    assert code == 0 and "format breaks" in out and "canary start" in out
    code, out = await _quantgate("flags", "show", *auth)
    assert code == 0 and re.search(r"rollback\s+│ true", out), out


async def test_cli_reports_refusals_without_traceback(gateway: Gateway) -> None:
    code, out = await _quantgate("flags", "set", "--rollout", "250", "--reason", "x", "--url", gateway.url,
                                 "--token", ADMIN_TOKEN)
    assert code == 1 and "422" in out and "Traceback" not in out
    code, out = await _quantgate("flags", "show", "--url", gateway.url, "--token", "wrong")
    assert code == 1 and "401" in out
    code, out = await _quantgate("flags", "show", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach" in out


async def test_admin_commands_find_the_gateway_from_its_settings_file(gateway: Gateway, tmp_path: Path) -> None:
    port = urlsplit(gateway.url).port
    config = tmp_path / "gateway.yaml"
    # A wildcard bind is reached on loopback; the token comes from the file, nothing is exported.
    config.write_text(yaml.safe_dump({"host": "0.0.0.0", "port": port, "admin_token": ADMIN_TOKEN}))
    code, out = await _quantgate("rollback", "--reason", "from the settings file", "--config", str(config))
    assert code == 0 and "rollback active" in out, out
    code, out = await _quantgate("audit", "--config", str(config), "--flag", "rollback")
    assert code == 0 and "from the settings file" in out
    code, out = await _quantgate("flags", "show", "--config", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read --config" in out and "Traceback" not in out


async def test_the_audit_trail_reads_at_80_columns(gateway: Gateway) -> None:
    auth = ["--url", gateway.url, "--token", ADMIN_TOKEN]
    reason = "candidate refusals up 4 points in benign-sensitive after the w4a16 calibration change; rolling back"
    await _quantgate("flags", "set", "--pin", "benign-sensitive=baseline", "--reason", reason, *auth)
    code, out = await _quantgate("audit", *auth, columns=80)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80
    stamp = re.compile(r"\d\d-\d\d \d\d:\d\d:\d\d")  # month-day and clock, never split over two lines
    assert len(stamp.findall(out)) >= 1 and "pins" in out and "rolling" in out
