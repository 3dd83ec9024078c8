"""Start-to-exit time of the operator's commands against a running gateway, next to a bare interpreter.

Starts `quantgate serve` on a throwaway SQLite store (admin token set, no backends needed for flag writes), then
runs each command N times as a fresh process and prints the median and p90 wall time:

    .venv/bin/python -m bench.cli_latency --runs 20
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "bench-admin-token-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gateway did not start")


def _timed(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[1:3]} failed: {result.stdout[-500:]}{result.stderr[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quantgate-cli-bench-"))
    port = _free_port()
    config = work / "gateway.yaml"
    config.write_text(f"port: {port}\nadmin_token: {TOKEN}\nvalidation_gate: false\n"
                      f"flag_store_url: sqlite:///{work / 'flags.db'}\n")
    quantgate = str(Path(sys.executable).with_name("quantgate"))
    env = {**os.environ, "QUANTGATE_CONFIG_FILE": ""}
    server = subprocess.Popen([quantgate, "serve", "--config", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        auth = ["--url", url, "--token", TOKEN]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "quantgate rollback --url --token": [quantgate, "rollback", "--reason", "bench", *auth],
            "quantgate rollback --config": [quantgate, "rollback", "--reason", "bench", "--config", str(config)],
            "quantgate flags set --url --token": [quantgate, "flags", "set", "--shadow", "1", "--reason", "bench",
                                                  *auth],
        }
        print(f"{'command':40} {'median s':>9} {'p90 s':>7}  ({args.runs} runs each)")
        for name, argv in commands.items():
            times = sorted(_timed(argv, args.runs))
            print(f"{name:40} {statistics.median(times):9.3f} {times[int(0.9 * (len(times) - 1))]:7.3f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
