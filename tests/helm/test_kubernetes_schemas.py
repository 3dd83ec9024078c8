"""The rendered chart against Kubernetes' own OpenAPI schemas (kubernetes-validate, strict: no unknown fields)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions, major_minor

from tests.helm.rendering import MINIMAL, production_values, render_documents

# The two newest minor versions the installed kubernetes-validate ships schemas for.
NEWEST = [str(v) for v in sorted({major_minor(v) for v in all_versions()})[-2:]]
# Custom resources of the Prometheus operator: Kubernetes has no schema for them (their CRDs do).
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("version", NEWEST)
@pytest.mark.parametrize("values", [MINIMAL, production_values()], ids=["defaults", "production"])
def test_every_rendered_manifest_is_valid_for_the_newest_kubernetes_versions(values: dict[str, Any],
                                                                             version: str) -> None:
    documents = render_documents(values)
    checked = []
    for doc in documents:
        if doc["kind"] in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} is not valid Kubernetes {version}: {exc.message} "
                        f"at {'.'.join(map(str, exc.path))}")
        checked.append(doc["kind"])
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job"} <= set(checked)


def test_a_manifest_kubernetes_would_refuse_is_caught() -> None:
    deployment = next(d for d in render_documents(MINIMAL) if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["port"] = {"not": "a port"}
    container["imagePullPolicy"] = "Always"
    container["resources"]["limit"] = {"cpu": "1"}  # a typo of `limits`: strict schemas refuse unknown fields
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, NEWEST[-1], strict=True)
