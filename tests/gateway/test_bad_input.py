"""Bad input to the proxy is a 4xx with a reason, is counted, and never reaches a backend or a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Gateway, Simulator, chat_body
from tests.helpers import metric_value


@pytest.mark.parametrize("model", [["quantgate"], {"name": "quantgate"}, 7, True])
async def test_a_model_that_is_not_a_string_is_a_400(gateway: Gateway, model: object) -> None:
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(model=model))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model" and "string" in response.json()["error"]["message"]


async def test_an_oversized_request_id_is_refused_and_never_echoed(gateway: Gateway, baseline_sim: Simulator) -> None:
    before = (await baseline_sim.stats())["requests"]
    async with gateway.client() as client:
        long_id = await client.post("/v1/chat/completions", json=chat_body(), headers={"x-request-id": "r" * 60_000})
        ok_id = await client.post("/v1/chat/completions", json=chat_body(), headers={"x-request-id": "trace-42"})
    assert long_id.status_code == 400 and "x-request-id" in long_id.json()["error"]["message"]
    assert len(long_id.headers["x-request-id"]) <= 128
    assert ok_id.status_code == 200 and ok_id.headers["x-request-id"] == "trace-42"
    assert (await baseline_sim.stats())["requests"] == before + 1


async def test_an_oversized_routing_key_is_refused(gateway: Gateway) -> None:
    async with gateway.client() as client:
        header = await client.post("/v1/chat/completions", json=chat_body(), headers={"x-quantgate-key": "k" * 5000})
        user = await client.post("/v1/chat/completions", json=chat_body(user="u" * 5000))
    assert header.status_code == 400 and "x-quantgate-key" in header.json()["error"]["message"]
    assert user.status_code == 400 and user.json()["error"]["param"] == "user"


async def test_requests_the_gateway_refuses_itself_are_counted(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(max_request_bytes=2048)
    async with gateway.client() as client:
        unknown = await client.post("/v1/chat/completions", json=chat_body(model="gpt-9"))
        invalid = await client.post("/v1/chat/completions", content=b"{nope",
                                    headers={"content-type": "application/json"})
        too_big = await client.post("/v1/chat/completions", json=chat_body("x" * 4096))
        metrics = (await client.get("/metrics")).text
    assert (unknown.status_code, invalid.status_code, too_big.status_code) == (404, 400, 413)
    for status in ("404", "400", "413"):
        assert metric_value(metrics, "quantgate_requests_total", variant="gateway", status=status) == 1


async def test_clients_cannot_evict_the_policys_categories(make_gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text("name: p\ndefaults: {}\ncategories:\n  json: {min_paired_samples: 50}\n")
    gateway = await make_gateway(policy_file=str(policy), max_categories=3)
    async with gateway.client() as client:
        for i in range(6):
            await client.post("/v1/chat/completions", json=chat_body(), headers={"x-quantgate-category": f"junk{i}"})
        await client.post("/v1/chat/completions", json=chat_body(), headers={"x-quantgate-category": "json"})
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "quantgate_requests_total", category="json") == 1
    assert metric_value(metrics, "quantgate_requests_total", category="other") == 3
    assert metric_value(metrics, "quantgate_category_overflow_total") == 3


async def test_only_the_public_name_and_declared_aliases_are_routable(make_gateway,  # type: ignore[no-untyped-def]
                                                                      baseline_sim: Simulator) -> None:
    gateway = await make_gateway(model_aliases=["smollm2"])
    before = (await baseline_sim.stats())["requests"]
    async with gateway.client() as client:
        public = await client.post("/v1/chat/completions", json=chat_body(model="quantgate"))
        alias = await client.post("/v1/chat/completions", json=chat_body(model="smollm2"))
        served = await client.post("/v1/chat/completions", json=chat_body(model=gateway.settings.candidate
                                                                           .served_model_name))
        missing = await client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert public.status_code == 200 and alias.status_code == 200
    # An alias is answered under the name the client sent, never a backend's served name.
    assert alias.json()["model"] == "quantgate"
    assert served.status_code == 404
    assert served.json()["error"] == {"message": served.json()["error"]["message"], "type": "NotFoundError",
                                      "param": "model", "code": 404}
    assert "serves `quantgate`" in served.json()["error"]["message"]
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    assert (await baseline_sim.stats())["requests"] == before + 2


@pytest.mark.parametrize(("field", "value", "accepted"),
                         [("n", 1_000_000, False), ("n", 4, True), ("best_of", 17, False), ("max_tokens", 10**9, False),
                          ("max_completion_tokens", 40_000, False), ("max_tokens", 0, False), ("n", "2", False),
                          ("n", True, False), ("max_tokens", 64, True)])
async def test_generation_counts_are_bounded_before_any_backend_sees_them(
        make_gateway, baseline_sim: Simulator, field: str, value: object,  # type: ignore[no-untyped-def]
        accepted: bool) -> None:
    gateway = await make_gateway(request_bounds={"max_n": 8, "max_best_of": 16, "max_tokens": 32_768})
    before = (await baseline_sim.stats())["requests"]
    async with gateway.client() as client:
        response = await client.post("/v1/completions", json={"model": "quantgate", "prompt": "hi", "max_tokens": 2,
                                                              field: value})
    if accepted:
        assert response.status_code == 200
        return
    assert response.status_code == 400 and response.json()["error"]["param"] == field
    assert (await baseline_sim.stats())["requests"] == before
