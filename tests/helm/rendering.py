"""Render the chart with the Helm SDK (no helm binary, no cluster): the values the tests use and the documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "quantgate"
MINIMAL = {"secrets": {"adminToken": "a-token-of-24-characters", "databaseUrl": "sqlite:////var/lib/quantgate/q.db"}}


def production_values() -> dict[str, Any]:
    """The chart's own production example (`ci/production-values.yaml`)."""
    return yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())


def render_documents(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manifest the chart renders for these values, schema-checked first."""
    chart = helm_python.Chart.load(str(CHART))
    chart.validate_schema(values)
    rendered = chart.render(values, name="quantgate", namespace="llm", is_install=True)
    return [doc for path, text in rendered.items() if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text) if doc]


def render(values: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The rendered manifests grouped by kind."""
    docs: dict[str, list[dict[str, Any]]] = {}
    for doc in render_documents(values):
        docs.setdefault(doc["kind"], []).append(doc)
    return docs
