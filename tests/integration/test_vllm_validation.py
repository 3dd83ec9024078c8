"""The pre-ship gate on real answers: a reduced suite against bf16 and GPTQ W4A16 on vLLM, stored and gating."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.demo.vllm_backends import VllmServer
from tests.conftest import GatewayFactory
from tests.integration.conftest import vllm_backend

pytestmark = pytest.mark.vllm


async def test_a_reduced_suite_validates_the_real_candidate_and_binds_the_gate(
        make_gateway: GatewayFactory, vllm_servers: dict[str, VllmServer], tmp_path: Path) -> None:
    gateway = await make_gateway(baseline=vllm_backend(vllm_servers["baseline"]),
                                 candidate=vllm_backend(vllm_servers["candidate"]), validation_gate=True)
    await gateway.wait_for_backend_checks(timeout_s=15)
    s = gateway.settings
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({
        "flag_store_url": s.flag_store_url,
        **{v: {"name": b.name, "base_url": b.base_url, "served_model_name": b.served_model_name,
               "stamp": b.stamp.model_dump()} for v, b in (("baseline", s.baseline), ("candidate", s.candidate))}}))
    args = ["validate", "--config", str(config), "--per-category", "2", "--concurrency", "4",
            "--cache-dir", str(tmp_path / "answers"), "--card-dir", str(tmp_path / "cards"), "--actor", "ci"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env={"COLUMNS": "100"})
    # Two items per category can show nothing within a tolerance: the honest outcome is "inconclusive" (or a
    # regression big enough to show even so), never "pass".
    assert result.exit_code in (3, 4), result.output
    async with gateway.admin() as admin:
        listed = (await admin.get("/admin/validations")).json()
        record = listed["validations"][0]
        card = (await admin.get(f"/admin/validations/{record['id']}")).json()
        refused = await admin.put("/admin/flags", json={"rollout_percent": 10, "reason": "canary"})
    assert record["suite"].startswith("quantgate-builtin-first2@") and listed["in_force"]["id"] == record["id"]
    assert record["identity"]["candidate"]["root"].endswith(vllm_servers["candidate"].model_dir.name)
    assert record["identity"]["candidate"]["runtime_version"].startswith("vllm-")
    assert s.candidate.stamp.method and s.candidate.stamp.method in card["card_markdown"]
    assert "quantgate-mixed-calibration-64" in card["card_markdown"]
    answers = card["result"]["scores"]
    assert set(answers) == {"math", "json", "multilingual", "benign-sensitive", "harmful", "long", "code", "chat"}
    assert refused.status_code == 409 and refused.json()["error"]["gate"]["failing"]
