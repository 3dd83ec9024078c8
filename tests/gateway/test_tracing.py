"""OpenTelemetry: server span per request, upstream child span with traceparent propagated, shadow spans linked."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import create_app
from tests.conftest import Gateway, GatewayFactory, Simulator, chat_body, wait_for_pairs

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"


async def _traced_gateway(make_gateway: GatewayFactory, monkeypatch) -> tuple[Gateway, InMemorySpanExporter]:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    import tests.conftest as conftest

    monkeypatch.setattr(conftest, "create_app", lambda settings: create_app(settings, tracer_provider=provider))
    gateway = await make_gateway(comparisons={"flush_interval_s": 0.05})
    return gateway, exporter


async def test_request_and_shadow_spans(make_gateway: GatewayFactory, monkeypatch, baseline_sim: Simulator,  # type: ignore[no-untyped-def]
                                        candidate_sim: Simulator) -> None:
    gateway, exporter = await _traced_gateway(make_gateway, monkeypatch)
    await gateway.set_flags(shadow_percent=100, category_overrides={"math": "candidate"})
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True),
                                     headers={"traceparent": TRACEPARENT, "x-quantgate-category": "math"})
    assert response.status_code == 200
    await wait_for_pairs(gateway, 1)
    for _ in range(50):
        if any(s.name == "shadow comparison" for s in exporter.get_finished_spans()):
            break
        await asyncio.sleep(0.05)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /v1/chat/completions"]
    assert format(server.context.trace_id, "032x") == CLIENT_TRACE
    assert server.attributes["quantgate.variant"] == "candidate"
    assert server.attributes["quantgate.category"] == "math"
    assert server.attributes["quantgate.routing.reason"] == "override"
    assert server.attributes["quantgate.flags.version"] >= 2 and server.attributes["quantgate.shadowed"] is True
    upstream = spans["upstream candidate"]
    assert upstream.parent.span_id == server.context.span_id
    primary_traceparent = (await candidate_sim.stats())["last_traceparent"]
    assert primary_traceparent.split("-")[1] == CLIENT_TRACE
    shadow = spans["shadow baseline"]
    assert shadow.links[0].context.span_id == server.context.span_id
    assert spans["shadow comparison"].parent.span_id == shadow.context.span_id
    assert (await baseline_sim.stats())["last_traceparent"].split("-")[1] == format(shadow.context.trace_id, "032x")


async def test_exemplars_with_openmetrics(make_gateway: GatewayFactory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gateway, _ = await _traced_gateway(make_gateway, monkeypatch)
    async with gateway.client() as client:
        await client.post("/v1/chat/completions", json=chat_body(stream=True), headers={"traceparent": TRACEPARENT})
        openmetrics = (await client.get("/metrics", headers={"accept": "application/openmetrics-text"})).text
        plain = (await client.get("/metrics")).text
    assert f'trace_id="{CLIENT_TRACE}"' in openmetrics
    assert "trace_id" not in plain
