"""`quantgate`: serve, simulate, demo, and the admin commands (flags, rollback, audit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gateway.cli.admin_client import AdminApiError
from gateway.cli.admin_target import ActorOption, AdminConfig, AdminToken, AdminUrl, admin_client, default_actor
from gateway.cli.console import command_group, console, fail
from gateway.cli.report_cmd import report
from gateway.cli.shadow_cmd import shadow_app
from gateway.cli.tables import audit_table, flags_summary, flags_table
from gateway.cli.validate_cmd import validate, validations_app

app = command_group("quantgate: roll a quantized LLM out next to its full-precision twin.")
flags_app = command_group("Show or change rollout flags through the admin API.")
app.add_typer(flags_app, name="flags")
app.add_typer(shadow_app, name="shadow")
db_app = command_group("Flag-store database schema (Alembic migrations).")
app.add_typer(db_app, name="db")
app.command("report")(report)
app.command("validate")(validate)
app.add_typer(validations_app, name="validations")


@app.command()
def serve(
    config: Annotated[Optional[Path], typer.Option(help="YAML settings file.", envvar="QUANTGATE_CONFIG_FILE")] = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Public port.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="uvicorn worker processes.")] = None,
    admin_port: Annotated[Optional[int], typer.Option(help="Serve /admin on this port instead.")] = None,
    admin_host: Annotated[Optional[str], typer.Option(help="Bind address of the admin port.")] = None,
    access_log: Annotated[Optional[bool], typer.Option("--access-log/--no-access-log",
                                                       help="One JSON line per request on stdout.")] = None,
) -> None:
    """Run the gateway (uvicorn with uvloop and httptools)."""
    from gateway.app import AdminTokenRequired
    from gateway.server import PortInUse
    from gateway.server import serve as run_server

    try:
        run_server(config, host=host, port=port, workers=workers, admin_port=admin_port, admin_host=admin_host,
                   access_log=access_log)
    except (AdminTokenRequired, FileNotFoundError, ValueError, PortInUse) as exc:
        fail(str(exc))


@app.command()
def simulate(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    served_model_name: Annotated[str, typer.Option(help="Model name the simulator answers to.")] = "baseline",
    profile: Annotated[str, typer.Option(help="baseline (faithful) or candidate (quality faults).")] = "baseline",
    ttft_ms: Annotated[float, typer.Option(help="Median time to first token (ms).")] = 40.0,
    itl_ms: Annotated[float, typer.Option(help="Median inter-token latency (ms).")] = 8.0,
    config: Annotated[Optional[Path], typer.Option(help="JSON/YAML SimulatorConfig (overrides the above).")] = None,
) -> None:
    """Run the OpenAI-compatible backend simulator (load and fault-injection target)."""
    import uvicorn
    import yaml

    from simulator.app import create_simulator_app
    from simulator.profile import LatencyProfile, SimulatorConfig, candidate_profile

    if profile not in ("baseline", "candidate"):
        fail("--profile must be 'baseline' or 'candidate'")
    settings: dict[str, Any] = {"served_model_name": served_model_name,
                                "latency": LatencyProfile(ttft_ms=ttft_ms, itl_ms=itl_ms).model_dump()}
    if profile == "candidate":
        settings["faults"] = {k: v.model_dump() for k, v in candidate_profile().items()}
    if config is not None:
        settings.update(yaml.safe_load(config.read_text()) or {})
    sim_config = SimulatorConfig.model_validate(settings)
    sim = create_simulator_app(sim_config)
    print(f"quantgate simulator listening on http://{host}:{port} · model {sim_config.served_model_name} · profile "
          f"{profile} · TTFT {sim_config.latency.ttft_ms:g} ms, ITL {sim_config.latency.itl_ms:g} ms", flush=True)
    uvicorn.run(sim, host=host, port=port, loop="uvloop", http="httptools", access_log=False, log_level="warning")


@app.command()
def demo(
    keep_running: Annotated[bool, typer.Option(help="Leave the stack up for curl / the OpenAI SDK.")] = False,
    requests_per_phase: Annotated[int, typer.Option(help="Requests sent in each rollout phase.")] = 80,
    concurrency: Annotated[int, typer.Option(help="Concurrent client requests.")] = 8,
    backends: Annotated[str, typer.Option(help="simulator, or vllm (see deploy/local/vllm.sh).")] = "simulator",
    vllm_python: Annotated[Path, typer.Option(help="Python of the vLLM environment.")] = Path(".venv-vllm/bin/python"),
    models_dir: Annotated[Path, typer.Option(help="Where `deploy/local/vllm.sh models` put the checkpoints.")] = (
        Path.home() / ".cache/quantgate/models"),
    candidate: Annotated[str, typer.Option(
        help="Quantized candidate for --backends vllm: gptq-w4a16, w8a8 or rtn-w4a16.")] = "gptq-w4a16",
    baseline_port: Annotated[Optional[int], typer.Option(help="Fixed port for the baseline vLLM server.")] = None,
    candidate_port: Annotated[Optional[int], typer.Option(help="Fixed port for the candidate vLLM server.")] = None,
    validate_per_category: Annotated[Optional[int], typer.Option(
        help="Suite items per category the demo validates (default 50 on simulators, 8 on vLLM).", min=1)] = None,
) -> None:
    """Start two backends and the gateway, validate the candidate, ramp 0→10→50%, roll back, summarize."""
    from gateway.demo.run import VllmChoice, run_demo
    from gateway.demo.vllm_backends import CANDIDATES

    if backends not in ("simulator", "vllm") or candidate not in CANDIDATES:
        fail(f"--backends is simulator or vllm; --candidate is one of {', '.join(CANDIDATES)}")
    vllm = VllmChoice(vllm_python, models_dir, candidate, (baseline_port, candidate_port)) \
        if backends == "vllm" else None
    raise typer.Exit(run_demo(console.rich(), keep_running=keep_running, requests_per_phase=requests_per_phase,
                              concurrency=concurrency, vllm=vllm, validate_per_category=validate_per_category))


@app.command()
def guard(
    config: Annotated[Optional[Path], typer.Option(help="YAML settings file (guard, policy_file, store).",
                                                   envvar="QUANTGATE_CONFIG_FILE")] = None,
    once: Annotated[bool, typer.Option(help="Run one check and print the decision.")] = False,
) -> None:
    """Run the rollback guard (one per deployment, like a Flagger controller)."""
    import asyncio

    from gateway.guard_process import build_guard, run_guard

    guard_loop = build_guard(config)
    if once:
        console.print(guard_loop.check_once())
        return
    asyncio.run(run_guard(guard_loop))


def _store_url(url: str | None, config: Path | None) -> str:
    from gateway.settings import load_settings

    return url or load_settings(config).flag_store_url


@db_app.command("upgrade")
def db_upgrade(
    url: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: the settings' flag_store_url).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML settings file.", envvar="QUANTGATE_CONFIG_FILE")] = None,
) -> None:
    """Migrate the database to this version's schema (run before rolling out a new version on PostgreSQL)."""
    from sqlalchemy.exc import SQLAlchemyError

    from flags.engine import make_engine
    from flags.migrate import current_revision, head_revision, upgrade

    engine = make_engine(_store_url(url, config))
    try:
        before = current_revision(engine)
        upgrade(engine)
    except SQLAlchemyError as exc:
        fail(f"migration failed: {exc}")
    console.print(f"schema {before or 'empty'} -> {head_revision()}")


@db_app.command("current")
def db_current(
    url: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default: the settings' flag_store_url).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML settings file.")] = None,
) -> None:
    """Print the schema revision of the database and the one this version needs."""
    from flags.engine import make_engine
    from flags.migrate import current_revision, head_revision

    current = current_revision(make_engine(_store_url(url, config)))
    console.print(f"database: {current or 'not migrated'}   this version: {head_revision()}")


backends_app = command_group("Inspect the configured backends.")
app.add_typer(backends_app, name="backends")


@backends_app.command("check")
def backends_check(
    config: Annotated[Optional[Path], typer.Option(help="YAML settings file.", envvar="QUANTGATE_CONFIG_FILE")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a backend differs from its stamp.")] = False,
) -> None:
    """Compare each backend's /v1/models and /version with its configured provenance stamp."""
    import asyncio

    from flags.model import Variant
    from gateway.backend_check import check_backends
    from gateway.settings import load_settings
    from wire.upstream import UpstreamBackend

    try:
        settings = load_settings(config)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
        return
    backends = [UpstreamBackend(Variant.BASELINE, settings.baseline), UpstreamBackend(Variant.CANDIDATE,
                                                                                      settings.candidate)]
    checks = asyncio.run(check_backends(backends))
    from gateway.cli.fitted_table import Column, fitted_table

    rows = [(check.variant, backend.base_url, ", ".join(check.served_models) or "-", str(check.max_model_len or "-"),
             check.runtime_version or "-", backend.settings.stamp.runtime_version or "-",
             "; ".join(f"{k}: {v}" for k, v in check.mismatches.items()) or "none")
            for backend, check in zip(backends, checks, strict=True)]
    columns = [Column(name) for name in ("variant", "url", "served models", "max context", "runtime",
                                         "stamp runtime")] + [Column("mismatches", wraps=True)]
    out = console.rich()
    out.print(fitted_table(out, "Backends against their provenance stamps", columns, rows))
    if strict and any(check.mismatches for check in checks):
        raise typer.Exit(1)


@flags_app.command("show")
def flags_show(url: AdminUrl = None, token: AdminToken = None,
               config: AdminConfig = None) -> None:
    """Print the current flags."""
    try:
        flags = admin_client(url, token, config).flags()
        out = console.rich()
        out.print(flags_table(out, flags))
    except AdminApiError as exc:
        fail(str(exc))


def _parse_pins(pins: list[str], unpins: list[str]) -> dict[str, Optional[str]] | None:
    overrides: dict[str, Optional[str]] = {}
    for pin in pins:
        category, sep, variant = pin.partition("=")
        if not sep:
            fail(f"--pin expects CATEGORY=baseline|candidate, got {pin!r}")
        overrides[category] = variant
    for category in unpins:
        overrides[category] = None
    return overrides or None


@flags_app.command("set")
def flags_set(
    reason: Annotated[str, typer.Option(help="Why (required, stored in the audit log).", show_envvar=False)],
    rollout: Annotated[Optional[float], typer.Option(help="Percent of routing keys to the candidate.")] = None,
    shadow: Annotated[Optional[float], typer.Option(help="Percent of requests mirrored.")] = None,
    rollback: Annotated[Optional[bool], typer.Option("--rollback/--no-rollback", help="Kill switch.")] = None,
    pin: Annotated[Optional[list[str]], typer.Option(help="CATEGORY=baseline|candidate (repeatable).")] = None,
    unpin: Annotated[Optional[list[str]], typer.Option(help="Drop a category's pin (repeatable).")] = None,
    salt: Annotated[Optional[str], typer.Option(help="New bucketing salt (reshuffles every key).")] = None,
    expected_version: Annotated[Optional[int], typer.Option(help="Refuse if the flags moved past this.")] = None,
    override_gate: Annotated[bool, typer.Option(help="Land a change the pre-ship gate refuses (audited with the "
                                                     "reason as an override).")] = False,
    actor: ActorOption = None,
    url: AdminUrl = None,
    token: AdminToken = None,
    config: AdminConfig = None,
) -> None:
    """Change flags (partial update)."""
    changes: dict[str, Any] = {"reason": reason, "rollout_percent": rollout, "shadow_percent": shadow,
                               "rollback": rollback, "category_overrides": _parse_pins(pin or [], unpin or []),
                               "salt": salt, "expected_version": expected_version,
                               "override_gate": override_gate or None, "actor": actor or default_actor()}
    try:
        flags = admin_client(url, token, config).update({k: v for k, v in changes.items() if v is not None})
    except AdminApiError as exc:
        fail(exc.outcome())
        return
    typer.echo(flags_summary(flags))


@app.command("rollback")
def rollback_command(
    reason: Annotated[str, typer.Option(help="Why (required, stored in the audit log).", show_envvar=False)],
    actor: ActorOption = None,
    url: AdminUrl = None,
    token: AdminToken = None,
    config: AdminConfig = None,
) -> None:
    """Send all traffic back to the baseline now."""
    try:
        flags = admin_client(url, token, config).rollback(reason, actor or default_actor())
    except AdminApiError as exc:
        fail(exc.outcome())
        return
    typer.secho(f"rollback active (flag-set version {flags['version']})", fg="red", bold=True)


@app.command()
def audit(
    limit: Annotated[int, typer.Option(help="How many entries.")] = 50,
    flag: Annotated[Optional[str], typer.Option(help="Only this flag.")] = None,
    url: AdminUrl = None,
    token: AdminToken = None,
    config: AdminConfig = None,
) -> None:
    """Print the flag audit trail."""
    try:
        entries = admin_client(url, token, config).audit(limit, flag)
        out = console.rich()
        out.print(audit_table(out, entries))
    except AdminApiError as exc:
        fail(str(exc))


if __name__ == "__main__":
    app()
