"""The pre-ship gate on real answers: a reduced suite against bf16 and GPTQ W4A16 on vLLM, stored and gating."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.demo.vllm_backends import VllmServer
from monitors.analysis.policy import DEFAULT_POLICY
from tests.conftest import GatewayFactory
from tests.integration.conftest import vllm_backend

pytestmark = pytest.mark.vllm


async def test_a_reduced_suite_validates_the_real_candidate_and_binds_the_gate(
        make_gateway: GatewayFactory, vllm_servers: dict[str, VllmServer], tmp_path: Path) -> None:
    config, policy = tmp_path / "gateway.yaml", tmp_path / "policy.yaml"
    # The default policy's tolerances, and a payoff half small enough for a test: two rounds of two requests.
    policy.write_text(yaml.safe_dump({
        "name": "vllm-test", "defaults": DEFAULT_POLICY.defaults.model_dump(mode="json", exclude_none=True),
        "performance": {"concurrency": [1], "requests": 2, "rounds": 2, "warmup": 1, "output_tokens": 8}}))
    gateway = await make_gateway(baseline=vllm_backend(vllm_servers["baseline"]),
                                 candidate=vllm_backend(vllm_servers["candidate"]), validation_gate=True,
                                 policy_file=str(policy))
    await gateway.wait_for_backend_checks(timeout_s=15)
    s = gateway.settings
    config.write_text(yaml.safe_dump({
        "flag_store_url": s.flag_store_url, "policy_file": str(policy),
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
    # Both halves and the early warning, from the real servers: vLLM serves prompt_logprobs, and the kernel it
    # logged is in the stamp the card shows.
    markdown = card["card_markdown"]
    assert "## Early warning: token-level agreement with the baseline" in markdown and "| chat | " in markdown
    assert "## Did it improve? Speed, memory and cost next to the baseline" in markdown
    assert s.candidate.stamp.kernel and s.candidate.stamp.kernel in markdown
    assert card["result"]["performance"]["rows"] and card["result"]["early_warning"]["categories"]
