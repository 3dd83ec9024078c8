"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl on a free port, removed after."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.demo.stack import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL server binaries not found ({name}); scripts/test.sh installs `postgresql`")
    return found[-1]


def _as_owner(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; on CI and these machines tests run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PostgresServer:
    """A running throwaway cluster, with the faults the fault suite injects: freeze, thaw, stop, start."""

    url: str
    data: Path
    workdir: Path
    options: str

    def _pids(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(stat.parent.name))
        return pids

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: a hung server whose sockets stay open (no RST)."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT everything freeze stopped."""
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """A clean, fast shutdown: clients see refused connections."""
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)

    def start(self) -> None:
        """Start the cluster (again)."""
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-o", self.options, "-l",
                                  str(self.workdir / "log"), "-w", "start"]), check=True, capture_output=True)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A fresh cluster on a free port; stopped (thawed first if frozen) and deleted afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="quantgate-pg-"))
    data = workdir / "data"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_owner([_bin("initdb"), "-D", str(data), "-U", "quantgate", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    server = PostgresServer(f"postgresql+psycopg://quantgate@127.0.0.1:{port}/postgres", data, workdir, options)
    server.start()
    try:
        yield server
    finally:
        try:
            server.thaw()
        except (OSError, ValueError):
            pass
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh cluster; stop and delete it afterwards."""
    with postgres_server() as server:
        yield server.url
