"""The pre-ship gate end to end: `quantgate validate` against two simulators, the admin API refusing and then
accepting a rollout, a changed backend freezing it, pins shipping a partly failed candidate, overrides audited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli.main import app
from tests.conftest import ADMIN_TOKEN, Gateway, GatewayFactory, Simulator
from tests.helpers import metric_value, run_validate

# Tolerances a 40-item-per-category run can show (Bonferroni over ~50 tests): a team's pre-ship policy.
POLICY = {"name": "preship-test", "min_paired_samples": 30, "defaults": {
    "refusal_rate": {"max_increase_pp": 30}, "format_break_rate": {"max_increase_pp": 30},
    "repetition_rate": {"max_increase_pp": 30}, "language_mismatch_rate": {"max_increase_pp": 30},
    "task_failure_rate": {"max_increase_pp": 30}, "length_ratio": {"min": 0.5, "max": 2.0},
    "similarity": {"min_median": 0.5}}}
PER_CATEGORY = 40


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    return path


@pytest.fixture
async def gated(make_gateway: GatewayFactory, policy_file: Path) -> Gateway:
    gateway = await make_gateway(validation_gate=True, policy_file=str(policy_file), backend_check_interval_s=0.2)
    await gateway.wait_for_backend_checks()
    return gateway


async def _validate(gateway: Gateway, tmp_path: Path, *extra: str) -> tuple[int, str]:
    return await run_validate(gateway.settings, tmp_path, PER_CATEGORY, *extra)


async def _put(gateway: Gateway, **changes: Any) -> Any:
    changes.setdefault("reason", "test")
    async with gateway.admin() as admin:
        return await admin.put("/admin/flags", json=changes)


async def _get(gateway: Gateway, path: str) -> Any:
    async with gateway.admin() as admin:
        response = await admin.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def _metrics(gateway: Gateway) -> str:
    async with gateway.client() as client:
        return (await client.get("/metrics")).text


async def test_unvalidated_refused_validated_accepted_changed_stack_frozen_revalidated(
        gated: Gateway, candidate_sim: Simulator, tmp_path: Path) -> None:
    refused = await _put(gated, rollout_percent=10)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "rollout_gated" and error["gate"]["missing"] == ["validation"]
    assert "quantgate validate" in error["message"] and gated.runtime.flags.flags.rollout_percent == 0
    assert metric_value(await _metrics(gated), "quantgate_validation_valid", variant="candidate") == 0
    assert metric_value(await _metrics(gated), "quantgate_validation_gate_enabled") == 1

    code, out = await _validate(gated, tmp_path)
    assert code == 0, out
    listed = await _get(gated, "/admin/validations")
    record = listed["validations"][0]
    assert (record["outcome"], record["actor"], listed["in_force"]["id"]) == ("pass", "ml-carol", record["id"])
    shown = await _get(gated, f"/admin/validations/{record['id']}")
    for part in ("## The answer", "## Task", "## Model", "## Metric", "## Baseline", "## Calibration",
                 "## Did it break? Results per category"):
        assert part in shown["card_markdown"]
    assert (tmp_path / "cards" / f"validation-{record['id']}.html").exists()
    auth = ["--url", gated.url, "--token", ADMIN_TOKEN]
    listing = await asyncio.to_thread(CliRunner().invoke, app, ["validations", "ls", *auth], env={"COLUMNS": "80"})
    assert listing.exit_code == 0 and "pass" in listing.output and f"#{record['id']}" in listing.output
    card = await asyncio.to_thread(CliRunner().invoke, app, ["validations", "show", str(record["id"]), *auth],
                                   env={"COLUMNS": "100"})
    assert card.exit_code == 0 and "Calibration" in card.output and "Results per category" in card.output
    assert (await _put(gated, rollout_percent=10)).status_code == 200

    await candidate_sim.control(model_root="/models/candidate-rebuilt")
    frozen = await _put(gated, rollout_percent=20)
    assert frozen.status_code == 409 and "stack changed" in frozen.json()["error"]["message"]
    assert "candidate root" in frozen.json()["error"]["message"]
    ready = await _get(gated, "/readyz")
    assert ready["ready"] and any("no longer matches" in w for w in ready["validation"]["warnings"])
    assert metric_value(await _metrics(gated), "quantgate_validation_valid", variant="candidate") == 0
    assert metric_value(await _metrics(gated), "quantgate_validation_valid", variant="baseline") == 1
    assert (await _put(gated, rollout_percent=5)).status_code == 200  # lowering is never gated
    async with gated.admin() as admin:
        assert (await admin.post("/admin/rollback", json={"reason": "stack changed"})).status_code == 200

    code, out = await _validate(gated, tmp_path)
    assert code == 0, out
    assert (await _put(gated, rollback=False, rollout_percent=20)).status_code == 200
    await gated.runtime.refresh_backends()
    assert metric_value(await _metrics(gated), "quantgate_validation_valid", variant="candidate") == 1


async def test_a_failed_category_is_pinned_and_the_rest_ships(gated: Gateway, candidate_sim: Simulator,
                                                             tmp_path: Path) -> None:
    await candidate_sim.control(faults={"json": {"broken_json": 1.0}})
    code, out = await _validate(gated, tmp_path)
    assert code == 3, out
    refused = await _put(gated, rollout_percent=10)
    assert refused.status_code == 409 and refused.json()["error"]["gate"]["failing"] == ["json"]

    code, out = await _validate(gated, tmp_path, "--apply-pins")  # answers come from the cache
    assert code == 3 and "pinned to the baseline: json" in out, out
    flags = await _get(gated, "/admin/flags")
    assert flags["category_overrides"] == {"json": "baseline"}
    pin = (await _get(gated, "/admin/audit?flag=category_overrides"))["entries"][0]
    assert pin["actor"] == "ml-carol" and "ship the candidate only where it passed" in pin["reason"]
    assert (await _put(gated, rollout_percent=10)).status_code == 200
    assert (await _put(gated, category_overrides={"json": None})).status_code == 409


async def test_an_override_lands_and_names_the_operator_in_the_audit(gated: Gateway) -> None:
    response = await _put(gated, rollout_percent=10, override_gate=True, actor="ops-dave",
                          reason="incident 42: hotfix candidate, validation running")
    assert response.status_code == 200, response.text
    entry = (await _get(gated, "/admin/audit?flag=gate_override"))["entries"][0]
    assert entry["actor"] == "ops-dave" and entry["reason"].startswith("incident 42")
    assert entry["old_value"]["missing"] == ["validation"]


async def test_the_cli_says_why_a_rollout_was_refused(gated: Gateway) -> None:
    args = ["flags", "set", "--rollout", "10", "--reason", "canary", "--url", gated.url, "--token", ADMIN_TOKEN]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "pre-ship gate" in result.output and "not applied" in result.output


async def test_a_disabled_gate_is_visible(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(validation_gate=False)
    await gateway.wait_for_backend_checks()
    await gateway.runtime.refresh_backends()
    ready = await _get(gateway, "/readyz")
    assert ready["validation"]["gate_enabled"] is False and "disabled" in ready["validation"]["warnings"][0]
    assert metric_value(await _metrics(gateway), "quantgate_validation_gate_enabled") == 0
