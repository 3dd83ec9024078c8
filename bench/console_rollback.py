"""From pressing "Roll back" in the console to the last worker routing on it, in a real browser.

Starts a simulator and `--replicas` gateways of `--workers` workers on one SQLite flag store, logs into the first
one's console with Playwright driving Debian's chromium, and times each round from the click on the confirmed
form to the moment every worker of every replica reports the new flag-set version on /metrics:

    .venv/bin/python -m bench.console_rollback --rounds 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench.replicas import start_replicas, start_simulator, wait_until_all, workdir_stack

TOKEN = "bench-admin-token-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll-s", type=float, default=0.25, help="the gateways' flag_poll_interval_s")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="quantgate-console-rollback-"))
    stack = workdir_stack(work)
    chromium = os.environ.get("QUANTGATE_CHROMIUM") or shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (scripts/test.sh installs it)"
    try:
        simulator = start_simulator(stack)
        replicas = start_replicas(stack, f"sqlite:///{work / 'flags.db'}", simulator, simulator, TOKEN,
                                  count=args.replicas, workers=args.workers, poll_s=args.poll_s)
        admin = httpx.Client(base_url=replicas[0].url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=10)
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(base_url=replicas[0].url)
            page.goto("/console/login")
            page.get_by_label("Your name").fill("bench")
            page.get_by_label("Admin token").fill(TOKEN)
            page.get_by_role("button", name="Log in").click()
            for i in range(args.rounds):
                page.goto("/console")
                page.get_by_label("Reason").fill(f"bench round {i}")
                page.get_by_label("I confirm").check()
                version = admin.get("/admin/flags").json()["version"] + 1
                pressed = time.perf_counter()
                page.get_by_role("button", name="Roll back").click()
                wait_until_all(replicas, version)
                times.append(time.perf_counter() - pressed)
                admin.put("/admin/flags", json={"rollback": False, "reason": "bench reset"})
                wait_until_all(replicas, version + 1)
            browser.close()
        workers = args.replicas * args.workers
        print(f"{workers} workers ({args.replicas} replicas x {args.workers}), flag poll {args.poll_s} s, "
              f"{args.rounds} rounds: click to last worker median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
