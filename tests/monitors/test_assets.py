"""Monitoring assets: promtool checks and unit-tests the rules; the dashboard is valid and templated."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitors.dashboard import ASSET, CHART_FILES, SYNCED_ASSETS, build_dashboard

ASSETS = Path(__file__).resolve().parents[2] / "monitors" / "assets"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: scripts/test.sh installs Debian's prometheus package"
    return path


def test_rules_pass_promtool_check(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(ASSETS / "prometheus-rules.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_unit_tests_pass(promtool: str) -> None:
    result = subprocess.run([promtool, "test", "rules", "tests/rules_test.yaml"], cwd=ASSETS,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_rule_has_a_unit_test() -> None:
    rules = yaml.safe_load((ASSETS / "prometheus-rules.yaml").read_text())
    tests = (ASSETS / "tests" / "rules_test.yaml").read_text()
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("record") or rule.get("alert")
            assert name in tests, f"{name} has no promtool unit test"


def test_dashboard_asset_is_current_and_templated() -> None:
    committed = json.loads(ASSET.read_text())
    assert committed == build_dashboard(), "run: python -m monitors.dashboard"
    variables = {v["name"]: v for v in committed["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in committed["panels"]]
    assert len(ids) == len(set(ids))
    rows = [p["title"] for p in committed["panels"] if p["type"] == "row"]
    assert rows[0].startswith("Did it break") and rows[1].startswith("Did it improve")
    for panel in committed["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    exprs = [t["expr"] for p in build_dashboard()["panels"] for t in p.get("targets", [])]
    concrete = [re.sub(r"\$__rate_interval", "5m", e).replace("$category", ".*") for e in exprs]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e}
                                                          for i, e in enumerate(concrete)]}]}
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", SYNCED_ASSETS)
def test_the_chart_ships_the_monitoring_assets_unchanged(name: str) -> None:
    """One source (monitors/assets/); the chart's copy is derived: `python -m monitors.dashboard` rewrites it."""
    assert (CHART_FILES / name).read_bytes() == (ASSETS / name).read_bytes(), "run: python -m monitors.dashboard"
