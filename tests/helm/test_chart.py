"""The Helm chart, linted and rendered with the Helm SDK (no helm binary, no cluster)."""

from __future__ import annotations

import json
from typing import Any

import helm_python
import pytest
import yaml

from tests.helm.rendering import CHART, MINIMAL, production_values, render


@pytest.mark.parametrize("values", [MINIMAL, production_values()], ids=["defaults", "production"])
def test_chart_lints_clean(values: dict[str, Any]) -> None:
    report = helm_python.lint(str(CHART), values, strict=True)
    assert report["errors"] == []
    assert not [m for m in report["messages"] if m["severity"] >= 2 and "icon" not in m["error"]]


def test_default_render_is_the_gateway_only() -> None:
    docs = render(MINIMAL)
    assert set(docs) == {"ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget", "Job"}
    deployment = docs["Deployment"][0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--admin-port" in container["args"]
    job = docs["Job"][0]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    config = yaml.safe_load(docs["ConfigMap"][0]["data"]["quantgate.yaml"])
    assert config["candidate"]["stamp"]["quantization"] == "gptq"


def test_production_render_has_every_part() -> None:
    docs = render(production_values())
    names = {d["metadata"]["name"] for d in docs["Deployment"]}
    assert names == {"quantgate", "quantgate-guard", "quantgate-vllm-baseline", "quantgate-vllm-candidate"}
    assert "HorizontalPodAutoscaler" in docs and "PersistentVolumeClaim" in docs
    vllm = next(d for d in docs["Deployment"] if d["metadata"]["name"] == "quantgate-vllm-candidate")
    container = vllm["spec"]["template"]["spec"]["containers"][0]
    assert "--quantization=gptq" in container["args"] and container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {d["metadata"]["name"] for d in docs["ServiceMonitor"]} == {
        "quantgate", "quantgate-vllm-baseline", "quantgate-vllm-candidate"}
    rule = docs["PrometheusRule"][0]
    assert rule["spec"] == yaml.safe_load((CHART.parents[1] / "monitors/assets/prometheus-rules.yaml").read_text())
    dashboard = next(d for d in docs["ConfigMap"] if d["metadata"]["name"] == "quantgate-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["quantgate-dashboard.json"])["uid"] == "quantgate-rollout"
    # No Deployment replicas when the HPA owns them.
    gateway = next(d for d in docs["Deployment"] if d["metadata"]["name"] == "quantgate")
    assert "replicas" not in gateway["spec"]


def test_chart_ships_the_current_monitoring_assets() -> None:
    assets = CHART.parents[1] / "monitors" / "assets"
    for name in ("prometheus-rules.yaml", "grafana-dashboard.json"):
        assert (CHART / "files" / name).read_text() == (assets / name).read_text(), f"copy {name} into the chart"


@pytest.mark.parametrize("bad", [
    {"workers": 0},
    {"service": {"port": 70000}},
    {"secrets": {"databaseUrl": "mysql://x"}},
    # The gateway refuses tokens under 16 characters: the chart says so before a pod crash-loops on it.
    {"secrets": {"adminToken": "change-me", "databaseUrl": "sqlite:////var/lib/quantgate/q.db"}},
    {"config": {"baseline": {"base_url": "ftp://x", "served_model_name": "b"}}},
    {"vllm": {"candidate": {"dtype": "int3"}}},
])
def test_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    chart = helm_python.Chart.load(str(CHART))
    with pytest.raises(helm_python.HelmValuesError):
        chart.validate_schema(chart.merge_values({**MINIMAL, **bad}))


def test_grace_period_must_cover_the_pre_stop_pause_and_the_drain() -> None:
    docs = render({**MINIMAL, "drainTimeoutSeconds": 45, "terminationGracePeriodSeconds": 60})
    container = docs["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "QUANTGATE_DRAIN_TIMEOUT_S", "value": "45"} in container["env"]
    with pytest.raises(helm_python.HelmRenderError, match="terminationGracePeriodSeconds"):
        render({**MINIMAL, "drainTimeoutSeconds": 60, "terminationGracePeriodSeconds": 60})


def test_missing_secrets_fail_therender() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="adminToken"):
        helm_python.Chart.load(str(CHART)).render({}, name="quantgate", namespace="llm")


def test_feedback_keys_reach_the_gateway_from_the_secret_as_the_list_it_parses() -> None:
    from gateway.settings import GatewaySettings

    keys = ["a" * 40, "b" * 40]
    docs = render({**production_values(), "secrets": {**production_values()["secrets"], "feedbackKeys": keys}})
    secret = next(d for d in docs["Secret"])
    gateway = next(d for d in docs["Deployment"] if d["metadata"]["name"] == "quantgate")
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["QUANTGATE_FEEDBACK__KEYS"]["valueFrom"]["secretKeyRef"]
    assert ref["key"] == "feedback-keys" and ref["optional"] is True  # an existing Secret without it: no feedback
    value = secret["stringData"]["feedback-keys"]
    assert [k.get_secret_value() for k in GatewaySettings(feedback={"keys": json.loads(value)}).feedback.keys] == keys
    assert "feedback-keys" not in next(d for d in render(production_values())["Secret"])["stringData"]
