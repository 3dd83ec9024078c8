"""The shipped alert rules on a real Prometheus server scraping a real gateway in front of the simulators.

A refusal rise injected in one category takes its alert to pending, then firing (read through Prometheus's HTTP
API); the category where both arms are identical stays silent throughout. The rules are loaded as shipped except
for time: every `interval` and `for` is divided by 60 (a minute becomes a second), so the test takes seconds; the
windows, thresholds and volume guards are the shipped ones (their timing is unit-tested by promtool).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.demo.stack import LocalStack, free_port, quantgate_argv
from tests.conftest import ADMIN_TOKEN, Simulator, chat_body

RULES = Path(__file__).resolve().parents[2] / "monitors" / "assets" / "prometheus-rules.yaml"
COMPARATIVE = {"QuantgateCandidateRefusalRateUp", "QuantgateCandidateFormatBreaksUp", "QuantgateCandidateErrorRateUp",
               "QuantgateCandidateLengthDrift", "QuantgateCandidateTTFTRegression"}


def _seconds_for_minutes(text: str) -> str:
    """The shipped rules with each `interval:` and `for:` of N minutes (or 30 s) turned into N seconds."""
    def scale(match: re.Match[str]) -> str:
        value, unit = int(match.group(2)), match.group(3)
        seconds = value if unit == "m" else max(1, value // 60)
        return f"{match.group(1)}{seconds}s"

    return re.sub(r"^(\s*(?:interval|for): )(\d+)([ms])$", scale, text, flags=re.MULTILINE)


@pytest.fixture
async def prometheus_over_gateway(tmp_path: Path, process_env: dict[str, str]) -> AsyncIterator[tuple[str, str]]:
    """(gateway URL, Prometheus URL): `quantgate serve` scraped every second by Debian's `prometheus`."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus missing: scripts/test.sh installs Debian's prometheus package"
    gateway_port, prometheus_port = free_port(), free_port()
    rules = tmp_path / "rules.yaml"
    rules.write_text(_seconds_for_minutes(RULES.read_text(encoding="utf-8")))
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "quantgate", "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}]}],
    }))
    stack = LocalStack(tmp_path)
    try:
        # Declared categories: their series exist at zero from the start, so the first scrape sees every answer.
        gateway = stack.start("gateway", quantgate_argv("serve", "--port", str(gateway_port)),
                              {**process_env, "QUANTGATE_FLAG_POLL_INTERVAL_S": "0.2",
                               "QUANTGATE_CATEGORIES": '["json", "chat"]'})
        prometheus = stack.start("prometheus", [binary, f"--config.file={config}",
                                                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                                f"--web.listen-address=127.0.0.1:{prometheus_port}"])
        await asyncio.to_thread(gateway.wait_ready, f"http://127.0.0.1:{gateway_port}/readyz", 60)
        await asyncio.to_thread(prometheus.wait_ready, f"http://127.0.0.1:{prometheus_port}/-/ready", 60)
        yield f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{prometheus_port}"
    finally:
        await asyncio.to_thread(stack.stop)


async def _traffic(gateway: str, categories: list[str], per_category: int) -> None:
    """Chat requests spread over routing keys (so both arms answer), `per_category` in each category."""
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for i in range(per_category):
        for category in categories:
            queue.put_nowait((category, i))

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            category, i = queue.get_nowait()
            response = await client.post("/v1/chat/completions", json=chat_body(f"question {i}", max_tokens=8),
                                         headers={"x-quantgate-category": category,
                                                  "x-quantgate-key": f"{category}-{i}"})
            assert response.status_code == 200

    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(16)))


async def _wait_for_first_scrape(prometheus: str, categories: list[str]) -> None:
    """Until Prometheus holds the zero-valued answer series of every arm in `categories` (scraped before traffic)."""
    query = f'count(quantgate_answers_judged_total{{arm="primary", category=~"{"|".join(categories)}"}})'
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    async with httpx.AsyncClient(base_url=prometheus, timeout=10) as client:
        while loop.time() < deadline:
            result = (await client.get("/api/v1/query", params={"query": query})).json()["data"]["result"]
            if result and float(result[0]["value"][1]) == 2 * len(categories):
                return
            await asyncio.sleep(0.25)
    raise AssertionError(f"Prometheus never scraped the zero-valued series of {categories}")


async def _alerts(prometheus: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=prometheus, timeout=10) as client:
        body = (await client.get("/api/v1/alerts")).json()
    assert body["status"] == "success"
    return body["data"]["alerts"]


async def test_a_refusal_rise_pages_in_its_category_and_identical_arms_stay_silent(
        prometheus_over_gateway: tuple[str, str], candidate_sim: Simulator) -> None:
    gateway, prometheus = prometheus_over_gateway
    await candidate_sim.control(faults={"json": {"refusal": 0.4}})
    async with httpx.AsyncClient(base_url=gateway, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        assert (await admin.put("/admin/flags", json={"rollout_percent": 50, "reason": "canary"})).status_code == 200
    await asyncio.sleep(0.5)  # every worker polls the new split
    await _wait_for_first_scrape(prometheus, ["json", "chat"])
    # Watched from the first request on: the alert may go pending while traffic is still arriving.
    traffic = asyncio.create_task(_traffic(gateway, ["json", "chat"], per_category=700))
    states: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline and "firing" not in states:
        alerts = await _alerts(prometheus)
        silent_breach = [a for a in alerts if a["labels"]["alertname"] in COMPARATIVE
                         and a["labels"].get("category") != "json"]
        assert not silent_breach, f"identical arms alerted: {silent_breach}"
        for alert in alerts:
            labels = alert["labels"]
            if labels["alertname"] == "QuantgateCandidateRefusalRateUp" and labels.get("category") == "json" \
                    and (not states or states[-1] != alert["state"]):
                states.append(alert["state"])
        await asyncio.sleep(0.25)
    await traffic
    assert states[:2] == ["pending", "firing"], states
    # Once the json alert fires, still nothing for the identical category.
    alerts = await _alerts(prometheus)
    assert {a["labels"].get("category") for a in alerts if a["labels"]["alertname"] in COMPARATIVE} == {"json"}
