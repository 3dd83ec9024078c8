"""Running the gateway under uvicorn: one or several workers, and optionally a separate admin port."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import tempfile
import threading
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from gateway.app import GatewayAsgi, Surface, check_admin_exposure, create_app
from gateway.http_protocol import GatewayHttpProtocol
from gateway.settings import GatewaySettings, load_settings
from monitors.metrics import share_between_processes

CONFIG_FILE_ENV = "QUANTGATE_CONFIG_FILE"
SURFACE_ENV = "QUANTGATE_SERVE_SURFACE"


# Young-generation threshold: a request's short-lived objects die by refcount before a collection sees them.
_GC_GEN0_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Keep the cyclic GC off the start-up heap and out of each request's way.

    Measured at 128 streams: with the defaults, full collections re-walked ~220k start-up objects
    (modules, pydantic/SQLAlchemy/OTel metadata) about once a second, ~0.1 ms of CPU per request.
    Frozen objects are never scanned again; a larger gen-0 threshold stops in-flight requests'
    objects from being promoted (and re-scanned) while they are still alive.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GC_GEN0_THRESHOLD, gen1, gen2)


def app_from_environment() -> GatewayAsgi:
    """uvicorn factory for worker processes: settings are rebuilt once per worker from env and file."""
    settings = load_settings(os.environ.get(CONFIG_FILE_ENV) or None)
    GatewayHttpProtocol.header_timeout_s = settings.client_header_timeout_s
    GatewayHttpProtocol.max_header_bytes = settings.client_max_header_bytes
    app = create_app(settings, Surface(os.environ.get(SURFACE_ENV, Surface.ALL.value)))
    tune_garbage_collector()
    return app


def _uvicorn_options(settings: GatewaySettings) -> dict[str, object]:
    return {"loop": "uvloop", "http": "gateway.http_protocol:GatewayHttpProtocol", "lifespan": "on",
            "access_log": False, "log_level": "warning", "timeout_graceful_shutdown": settings.drain_timeout_s,
            "factory": True,
            "proxy_headers": False, "server_header": False}


def _run_admin(host: str, port: int) -> None:
    os.environ[SURFACE_ENV] = Surface.ADMIN.value
    settings = load_settings(os.environ.get(CONFIG_FILE_ENV) or None)
    uvicorn.run("gateway.server:app_from_environment", host=host, port=port, workers=1, **_uvicorn_options(settings))


def _run_guard(config_file: str | None) -> None:
    import asyncio

    from gateway.guard_process import build_guard, run_guard

    asyncio.run(run_guard(build_guard(Path(config_file) if config_file else None)))


def _export_overrides(overrides: dict[str, object]) -> None:
    # Workers are fresh processes: command-line overrides reach them as env vars, which beat the file.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"QUANTGATE_{name.upper()}"] = str(value)


def _masked(url: str) -> str:
    """A store URL with its password replaced, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def startup_banner(settings: GatewaySettings) -> str:
    """One line: where the gateway listens, which backends it fronts under which names, which store it uses."""
    public = f"http://{settings.host}:{settings.port}"
    admin = (f"admin http://{settings.admin_bind_host()}:{settings.admin_port}" if settings.admin_port is not None
             else "admin on the same port")
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    arms = " · ".join(f"{variant} {backend.name} → {backend.base_url} (model {backend.served_model_name})"
                      for variant, backend in (("baseline", settings.baseline), ("candidate", settings.candidate)))
    return (f"quantgate listening on {public} ({workers}, {admin}) · public model {settings.public_model_name} · "
            f"{arms} · store {_masked(settings.flag_store_url)} · guard {'on' if settings.guard.enabled else 'off'}"
            f" · access log {'on' if settings.access_log else 'off'}")


class PortInUse(OSError):
    """A port the gateway must listen on is taken (often by a gateway that was not stopped)."""


def check_ports_free(settings: GatewaySettings) -> None:
    """Fail before starting anything when the public or admin port cannot be bound."""
    ports = [(settings.host, settings.port, "public")]
    if settings.admin_port is not None:
        ports.append((settings.admin_bind_host(), settings.admin_port, "admin"))
    for host, port, role in ports:
        if port == 0:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # The same option uvicorn binds with: a port in TIME_WAIT is free, one with a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise PortInUse(f"cannot listen on {host}:{port} ({role} port): {exc.strerror}; is another "
                                "quantgate still running?") from exc


class _Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives (ours, or uvicorn's re-raise after its graceful stop)."""


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    # uvicorn restores this handler after its own graceful shutdown and re-raises SIGTERM: raising here (instead of
    # the default action, which kills the process on the spot) lets `serve`'s `finally` stop the helper processes.
    raise _Terminated(0)


def _watch_helpers(helpers: dict[str, BaseProcess], stopping: threading.Event) -> None:
    """Stop the gateway when a helper process dies on its own: half a gateway must not keep running."""
    sentinels = {helper.sentinel: name for name, helper in helpers.items()}
    ready = multiprocessing.connection.wait(list(sentinels))
    if stopping.is_set():
        return
    name = sentinels[ready[0]]  # type: ignore[index]
    logging.getLogger("quantgate.server").error("%s process exited (code %s): stopping the gateway", name,
                                                helpers[name].exitcode)
    os.kill(os.getpid(), signal.SIGTERM)


def _stop_helpers(helpers: dict[str, BaseProcess], timeout_s: float = 10.0) -> None:
    for helper in helpers.values():
        if helper.is_alive():
            helper.terminate()
    for helper in helpers.values():
        helper.join(timeout_s)
        if helper.is_alive():
            helper.kill()
            helper.join(2)


def _start_helpers(settings: GatewaySettings) -> dict[str, BaseProcess]:
    spawn = multiprocessing.get_context("spawn")
    helpers: dict[str, BaseProcess] = {}
    if settings.admin_port is not None:
        helpers["admin"] = spawn.Process(target=_run_admin, args=(settings.admin_bind_host(), settings.admin_port),
                                         daemon=True, name="quantgate-admin")
    if settings.guard.enabled:
        # One guard per server, never one per worker: it flips flags, like a Flagger controller.
        helpers["guard"] = spawn.Process(target=_run_guard, args=(os.environ.get(CONFIG_FILE_ENV),), daemon=True,
                                         name="quantgate-guard")
    for helper in helpers.values():
        helper.start()
    return helpers


def serve(config_file: Path | None, **overrides: object) -> None:
    """Start the gateway in the foreground until SIGINT/SIGTERM; every process it started stops with it."""
    if config_file is not None:
        os.environ[CONFIG_FILE_ENV] = str(Path(config_file).resolve())
    _export_overrides(overrides)
    settings: GatewaySettings = load_settings(config_file)
    public_surface = Surface.PUBLIC if settings.admin_port is not None else Surface.ALL
    check_admin_exposure(settings, Surface.ADMIN if settings.admin_port is not None else Surface.ALL)
    check_ports_free(settings)
    metrics_dir = None
    # Several processes (workers, or one worker and the admin port) share one metrics view through a directory.
    if (settings.workers > 1 or settings.admin_port is not None) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="quantgate-metrics-")
        share_between_processes(metrics_dir)
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    stopping = threading.Event()
    helpers: dict[str, BaseProcess] = {}
    try:
        helpers = _start_helpers(settings)
        if helpers:
            threading.Thread(target=_watch_helpers, args=(helpers, stopping), daemon=True,
                             name="quantgate-helper-watch").start()
        os.environ[SURFACE_ENV] = public_surface.value
        print(startup_banner(settings), flush=True)
        uvicorn.run("gateway.server:app_from_environment", host=settings.host, port=settings.port,
                    workers=settings.workers, **_uvicorn_options(settings))
    finally:
        # A second SIGTERM (a kubelet repeating itself) must not cut the clean-up short; it is bounded anyway.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopping.set()
        _stop_helpers(helpers)
        signal.signal(signal.SIGTERM, previous)
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
