"""Every CLI output an on-call engineer reads, at 80 columns (half a laptop screen during an incident)."""

from __future__ import annotations

import asyncio
import re

import click
import pytest
import typer.main
from typer.testing import CliRunner

from flags.model import FlagAuditRow, utcnow
from gateway.cli.main import app
from tests.conftest import ADMIN_TOKEN, Gateway

WIDTH = 80


async def _quantgate(*args: str, columns: int = WIDTH) -> tuple[int, str]:
    # The gateway serves from this event loop, so the synchronous CLI runs in a thread.
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def _readable(out: str) -> None:
    """Every line fits, nothing was cut to an ellipsis, and no raw control character reaches the terminal."""
    assert max((len(line) for line in out.splitlines()), default=0) <= WIDTH, out
    assert "…" not in out, out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), repr(out)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(typer.main.get_command(app)), ids=" ".join)  # type: ignore[arg-type]
def test_every_help_reads_at_80_columns(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    _readable(result.output)
    if command in (("flags", "set"), ("rollback",), ("audit",)):
        # Environment variable names and the default URL whole, never cut.
        for whole in ("QUANTGATE_ADMIN_TOKEN", "QUANTGATE_ADMIN_URL", "http://127.0.0.1:8080", "QUANTGATE_CONFIG_FILE"):
            assert whole in result.output.replace("\n", " ").replace("  ", " "), result.output


def test_a_missing_reason_names_the_option_and_no_phantom_variable() -> None:
    result = CliRunner().invoke(app, ["rollback"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 2 and "Missing option '--reason'" in result.output
    assert "env var" not in result.output


async def test_audit_folds_into_blocks_wraps_reasons_at_words_and_escapes_what_was_stored(gateway: Gateway) -> None:
    auth = ["--url", gateway.url, "--token", ADMIN_TOKEN]
    reason = ("candidate refusals up 4 points in benign-sensitive after the w4a16 calibration change; pinning "
              "the regressed categories to the baseline until the recalibrated checkpoint is validated")
    code, out = await _quantgate("flags", "set", "--pin", "json=baseline", "--pin", "benign-sensitive=baseline",
                                 "--reason", reason, "--actor", "alice@laptop", *auth)
    assert code == 0 and "pins benign-sensitive=baseline, json=baseline" in out, out
    # A row stored before control characters were refused at the API (or written around it).
    store = gateway.runtime.store
    with store._session(write=True) as session:  # noqa: SLF001 - writing what the API now refuses
        session.add(FlagAuditRow(at=utcnow(), flag="rollback", old_value_json="false", new_value_json="true",
                                 actor="mallory\nv 99", reason="\x1b]0;pwned\x07\x1b[2Jgone", version=99))
    code, out = await _quantgate("audit", *auth)
    assert code == 0, out
    _readable(out)
    assert "benign-sensitive=baseline, json=baseline" in out
    # Wrapped at words: every word of the reason is on the screen whole.
    words = set(out.split())
    assert all(word in words for word in reason.split()), out
    assert "alice@laptop" in out
    assert "\\x1b]0;pwned\\x07\\x1b[2Jgone" in out and "mallory\\nv 99" in out


async def test_flags_show_at_80_columns(gateway: Gateway) -> None:
    await gateway.set_flags(category_overrides={"json": "baseline", "math": "candidate"}, rollout_percent=10)
    code, out = await _quantgate("flags", "show", "--url", gateway.url, "--token", ADMIN_TOKEN)
    assert code == 0
    _readable(out)
    assert "json=baseline, math=candidate" in out and "rollout_percent" in out


async def test_report_at_80_columns(shadowed_gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, out = await _quantgate("report", "--url", shadowed_gateway.url, "--token", ADMIN_TOKEN,
                                 "--html", str(tmp_path / "report.html"))
    assert code == 0, out
    _readable(out)
    # One block per verdict, headed by its category and metric; verdict names and labels whole.
    assert "json · refusal_rate" in out and "chat · refusal_rate" in out
    assert re.search(r"verdict\s+regression", out) and "pairs to settle" in out


async def test_report_without_data_says_so(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    html = tmp_path / "report.html"
    code, out = await _quantgate("report", "--url", gateway.url, "--token", ADMIN_TOKEN, "--html", str(html))
    assert code == 0, out
    _readable(out)
    assert "No verdicts since" in out and "Warning" not in out and not html.exists()


async def test_a_refused_rollout_says_so_once_and_names_the_override(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(validation_gate=True)
    code, out = await _quantgate("flags", "set", "--rollout", "10", "--reason", "canary", "--url", gateway.url,
                                 "--token", ADMIN_TOKEN)
    flat = " ".join(out.split())
    assert code == 1 and flat.startswith("error: not applied: 409")
    assert flat.count("nothing was changed") == 1 and "--override-gate" in flat


async def test_the_public_port_is_named_when_the_admin_api_is_elsewhere(
        make_gateway, serve) -> None:  # type: ignore[no-untyped-def]
    from gateway.app import Surface, create_app

    gateway = await make_gateway()
    public_url = await serve(create_app(gateway.settings, Surface.PUBLIC))
    code, out = await _quantgate("rollback", "--reason", "x", "--url", public_url, "--token", ADMIN_TOKEN)
    flat = " ".join(out.split())
    assert code == 1 and "is it the public port?" in flat and "--admin-port" in flat
    assert gateway.runtime.flags.flags.rollback is False


async def test_a_validation_card_reads_at_80_columns(gateway: Gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import run_validate

    code, output = await run_validate(gateway.settings, tmp_path, 2)
    assert code in (0, 3, 4), output
    auth = ["--url", gateway.url, "--token", ADMIN_TOKEN]
    code, out = await _quantgate("validations", "ls", *auth)
    assert code == 0, out
    _readable(out)
    code, out = await _quantgate("validations", "show", "1", *auth)
    assert code == 0, out
    _readable(out)
    assert "Validation #1" in out and "refusal_rate" in out and "Run by ml-carol" in out
