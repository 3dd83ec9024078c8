"""Where the admin commands send their calls: --url/--token, or the gateway's own settings file (--config)."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer

from gateway.cli.admin_client import AdminApiError, AdminClient

DEFAULT_ADMIN_URL = "http://127.0.0.1:8080"
AdminUrl = Annotated[Optional[str], typer.Option(
    "--url", envvar="QUANTGATE_ADMIN_URL", help=f"Admin API base URL (default: from --config, else "
                                                f"{DEFAULT_ADMIN_URL}).")]
AdminToken = Annotated[Optional[str], typer.Option("--token", envvar="QUANTGATE_ADMIN_TOKEN",
                                                   help="Bearer token (default: from --config).")]
AdminConfig = Annotated[Optional[Path], typer.Option(
    "--config", envvar="QUANTGATE_CONFIG_FILE", help="The gateway's YAML settings: admin host, port and token.")]
ActorOption = Annotated[Optional[str], typer.Option(
    "--actor", envvar="QUANTGATE_ACTOR", show_default=False,
    help="Who acts, as the audit trail names it (default: login@host).")]
# A wildcard bind is reached on loopback from the same machine.
_WILDCARDS = {"0.0.0.0", "::", ""}


def admin_client(url: str | None, token: str | None, config: Path | None) -> AdminClient:
    """A client for the admin API; explicit --url/--token win over what the settings file says."""
    if config is not None and (url is None or token is None):
        # Only here: the settings pull in pydantic-settings and YAML, which `rollback --url` does not need.
        from gateway.settings import load_settings

        try:
            settings = load_settings(config)
        except (FileNotFoundError, ValueError) as exc:
            raise AdminApiError(f"cannot read --config {config}: {exc}") from exc
        host = settings.admin_bind_host()
        host = "127.0.0.1" if host in _WILDCARDS else host
        port = settings.admin_port if settings.admin_port is not None else settings.port
        url = url or f"http://{f'[{host}]' if ':' in host else host}:{port}"
        if token is None and settings.admin_token is not None:
            token = settings.admin_token.get_secret_value()
    return AdminClient(url or DEFAULT_ADMIN_URL, token)


def default_actor() -> str:
    """The person at this terminal as `login@host`, like the user a Kubernetes audit event names."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (a bare container)
        login = "unknown"
    return f"{login}@{socket.gethostname()}"
