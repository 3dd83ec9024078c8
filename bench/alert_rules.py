"""The shipped alert rules' parameters, read from the rules file itself (so the arithmetic checks what ships)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bench.alert_false_pages import NaiveRateRule, RateRule, RatioRule

RULES_FILE = Path(__file__).resolve().parents[1] / "monitors" / "assets" / "prometheus-rules.yaml"
# `<difference> > <margin> + <z> * <standard error> and on (category) <smaller arm's answers> >= <minimum>`
_RATE = re.compile(r"\S+ > ([\d.]+) \+ ([\d.]+) \* \S+\s+and on \(category\) (\S+) >= (\d+)")
# `(<ratio> < <low> or <ratio> > <high>) and on (category) <smaller arm's answers> >= <minimum>` (low optional)
_RATIO = re.compile(r"\(?(\S+?)(?: < ([\d.]+)\s+or \S+)? > ([\d.]+)\)?\s+and on \(category\) (\S+) >= (\d+)")
_WINDOW = re.compile(r"\[(\d+)([mh])\]")

# The refusal alert before the arithmetic (10-minute difference above 1 pp, 50 candidate answers, for 10m).
OLD_REFUSAL_RULE = NaiveRateRule("QuantgateCandidateRefusalRateUp (before)", 0.01, 10, 50, 10)


def _rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {rule.get("alert") or rule["record"]: rule for group in doc["groups"] for rule in group["rules"]}


def _minutes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([mh])", text)
    assert match, text
    return int(match.group(1)) * (60 if match.group(2) == "h" else 1)


def _window(rules: dict[str, dict[str, Any]], record: str) -> int:
    """The range a recorded series is computed over (following the recorded series it reads)."""
    expr = rules[record]["expr"]
    match = _WINDOW.search(expr)
    if match:
        return _minutes(match.group(1) + match.group(2))
    for name in re.findall(r"quantgate:[\w:]+", expr):
        if name != record and name in rules:
            return _window(rules, name)
    raise AssertionError(f"{record} has no range")


def rate_rule(name: str) -> RateRule:
    """A rate alert's margin, z, window, volume guard and `for`, as the rules file states them."""
    rules = _rules()
    match = _RATE.search(" ".join(rules[name]["expr"].split()))
    assert match, f"{name} is not a rate alert of the expected shape"
    margin, z, volume, minimum = match.groups()
    return RateRule(name, float(margin), float(z), _window(rules, volume), int(minimum), _minutes(rules[name]["for"]))


def ratio_rule(name: str) -> RatioRule:
    """A ratio alert's band, window, volume guard and `for`."""
    rules = _rules()
    match = _RATIO.search(" ".join(rules[name]["expr"].split()))
    assert match, f"{name} is not a ratio alert of the expected shape"
    ratio, low, high, volume, minimum = match.groups()
    return RatioRule(name, float(low or 0), float(high), _window(rules, ratio), int(minimum),
                     _minutes(rules[name]["for"]))


RATE_RULES = tuple(rate_rule(name) for name in ("QuantgateCandidateRefusalRateUp", "QuantgateCandidateFormatBreaksUp",
                                                  "QuantgateCandidateErrorRateUp", "QuantgateCandidateFeedbackUp"))
LENGTH_RULE = ratio_rule("QuantgateCandidateLengthDrift")
TTFT_RULE = ratio_rule("QuantgateCandidateTTFTRegression")
