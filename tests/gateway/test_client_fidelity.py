"""The gateway looks like the backend to a client: model names, /v1/models, /health, content types."""

from __future__ import annotations

import httpx

from tests.conftest import Gateway, chat_body
from tests.helpers import sse_events


async def test_answers_name_the_public_model_whichever_arm_answered(gateway: Gateway) -> None:
    public = gateway.settings.public_model_name
    async with gateway.client() as client:
        for rollout in (0, 100):
            await gateway.set_flags(rollout_percent=rollout)
            whole = await client.post("/v1/chat/completions", json=chat_body())
            streamed = await client.post("/v1/chat/completions", json=chat_body(stream=True))
            completion = await client.post("/v1/completions", json={"model": public, "prompt": "hi", "max_tokens": 4})
            assert whole.json()["model"] == public and completion.json()["model"] == public
            chunks = [e for e in sse_events(streamed.text) if isinstance(e, dict)]
            assert chunks and {c["model"] for c in chunks} == {public}
            assert gateway.settings.baseline.served_model_name not in whole.text + streamed.text
            assert gateway.settings.candidate.served_model_name not in whole.text + streamed.text


async def test_streams_carry_the_backends_system_fingerprint_where_the_backend_puts_it(gateway: Gateway) -> None:
    async with gateway.client() as client:
        for options in (None, {"include_usage": True}):
            body = chat_body(stream=True, **({"stream_options": options} if options else {}))
            through = [e for e in sse_events((await client.post("/v1/chat/completions", json=body)).text)
                       if isinstance(e, dict)]
            async with httpx.AsyncClient(base_url=gateway.settings.baseline.base_url) as backend:
                direct = [e for e in sse_events((await backend.post("/v1/chat/completions", json={
                    **body, "model": gateway.settings.baseline.served_model_name})).text) if isinstance(e, dict)]
            assert [e.get("system_fingerprint") for e in through] == [e.get("system_fingerprint") for e in direct]
            assert any(e.get("system_fingerprint") for e in through)


async def test_models_lists_the_backends_card_under_the_public_name(gateway: Gateway) -> None:
    assert await gateway.wait_for_backend_checks()
    async with gateway.client() as client:
        models = (await client.get("/v1/models")).json()
    (entry,) = models["data"]
    assert entry["id"] == gateway.settings.public_model_name
    assert entry["max_model_len"] == 8192 and "root" in entry and "parent" in entry and entry["permission"]


async def test_health_answers_like_vllm(gateway: Gateway) -> None:
    async with gateway.client() as client:
        assert (await client.get("/health")).status_code == 200


async def test_a_text_body_is_refused_as_vllm_refuses_it(gateway: Gateway) -> None:
    async with gateway.client() as client:
        text = await client.post("/v1/chat/completions", content=b'{"messages": []}',
                                 headers={"content-type": "text/plain"})
        form = await client.post("/v1/chat/completions", content=b'{"messages": []}',
                                 headers={"content-type": "application/x-www-form-urlencoded"})
        charset = await client.post("/v1/chat/completions",
                                    content=b'{"model": "quantgate", "messages": [{"role": "user", "content": "x"}]}',
                                    headers={"content-type": "application/json; charset=utf-8"})
    assert text.status_code == form.status_code == 415
    assert "application/json" in text.json()["error"]["message"]
    assert charset.status_code == 200
