"""Gateway metrics as an on-call engineer reads them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway, chat_body
from tests.helpers import metric_value


async def test_metrics_per_variant_and_category(gateway: Gateway) -> None:
    await gateway.set_flags(category_overrides={"json": "candidate"})
    async with gateway.client() as client:
        await client.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=6, min_tokens=6),
                          headers={"x-quantgate-category": "json"})
        await client.post("/v1/chat/completions", json=chat_body(max_tokens=3, metadata={"category": "math"}))
        text = (await client.get("/metrics")).text
    assert metric_value(text, "quantgate_requests_total", variant="candidate", category="json", status="200") == 1
    assert metric_value(text, "quantgate_requests_total", variant="baseline", category="math", status="200") == 1
    # TTFT and inter-token latency only come from streamed answers.
    assert metric_value(text, "quantgate_time_to_first_token_seconds_count", category="json") == 1
    assert metric_value(text, "quantgate_time_to_first_token_seconds_count", category="math") == 0
    assert metric_value(text, "quantgate_inter_token_latency_seconds_count", category="json") == 1
    assert metric_value(text, "quantgate_output_tokens_sum", category="math") == 3
    assert metric_value(text, "quantgate_request_duration_seconds_count") == 2
    assert metric_value(text, "quantgate_flag_set_version") >= 2
    assert metric_value(text, "quantgate_rollback_active") == 0


async def test_backend_provenance_stamps_are_exported(gateway: Gateway) -> None:
    async with gateway.client() as client:
        text = (await client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    stamps = {s.labels["variant"]: s.labels for s in families["quantgate_backend_info"].samples}
    assert stamps["candidate"]["quantization"] == "w8a8" and stamps["candidate"]["bits"] == "8"
    assert stamps["baseline"]["model"] == "tiny-baseline"


async def test_category_label_cardinality_is_bounded(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gateway = await make_gateway(max_categories=3)
    async with gateway.client() as client:
        for i in range(6):
            await client.post("/v1/chat/completions", json=chat_body(max_tokens=1),
                              headers={"x-quantgate-category": f"cat{i}"})
        text = (await client.get("/metrics")).text
    categories = {s.labels["category"] for f in text_string_to_metric_families(text)
                  if f.name == "quantgate_requests" for s in f.samples}
    # 'default' and 'other' exist from the start (at zero); three client names got their own label.
    assert categories == {"cat0", "cat1", "cat2", "other", "default"}


async def test_declared_categories_exist_at_zero_before_any_traffic(make_gateway) -> None:  # type: ignore[no-untyped-def]
    """A series born with its first answer hides that answer from Prometheus's increase(): they start at zero."""
    gateway = await make_gateway(categories=["json", "chat"])
    async with gateway.client() as client:
        text = (await client.get("/metrics")).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    for variant in ("baseline", "candidate"):
        for category in ("json", "chat", "default", "other"):
            for arm in ("primary", "shadow"):
                labels = {"variant": variant, "category": category, "arm": arm}
                assert value("quantgate_answers_judged_total", **labels) == 0, labels
                assert value("quantgate_refusals_total", **labels) == 0, labels
                assert value("quantgate_format_checked_total", **labels) == 0, labels
            for endpoint, status in (("chat", "200"), ("completions", "502")):
                labels = {"variant": variant, "category": category, "endpoint": endpoint, "status": status}
                assert value("quantgate_requests_total", **labels) == 0, labels


def test_every_prometheus_label_is_set_by_a_recorder_verb() -> None:
    """Label values are chosen in one place per recorder: no other module calls `.labels(` on a metric."""
    root = Path(__file__).resolve().parents[2]
    recorders = {root / "monitors" / "metrics.py", root / "monitors" / "quality" / "metrics.py"}
    offenders = [str(path.relative_to(root)) for package in ("gateway", "shadow", "monitors", "flags", "wire", "evals")
                 for path in (root / package).rglob("*.py")
                 if path not in recorders and ".labels(" in path.read_text(encoding="utf-8")]
    assert offenders == []
