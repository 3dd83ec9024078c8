"""Property-based fuzzing of the proxy and admin surfaces against a live gateway in front of two simulators.

Whatever a client sends: no 5xx, every 4xx an OpenAI-style JSON error with a reason, and a refused admin
request leaves the stored flags and the audit log exactly as they were. Derandomized so CI is repeatable;
`--hypothesis-seed` or a changed profile explores further.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_TOKEN
from tests.gateway.live_stack import live_gateway

CASES = 1000
FUZZ = settings(max_examples=CASES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

json_scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
small_tokens = st.integers(-3, 24) | json_values
messages = st.just([{"role": "user", "content": "hello"}]) | st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool", ""]) | json_values,
                           "content": st.text(max_size=40) | json_values}), max_size=3) | json_values
valid_schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
response_formats = st.sampled_from([{"type": "json_object"}, {"type": "text"}, valid_schema]) \
    | st.fixed_dictionaries({"type": st.sampled_from(["json_schema", "json_object", "xml"]),
                             "json_schema": json_values | st.fixed_dictionaries({"schema": json_values})}) | json_values
chat_bodies = st.fixed_dictionaries(
    {"messages": messages},
    optional={"model": st.sampled_from(["quantgate", "baseline-model", "gpt-9"]) | json_values,
              "stream": st.booleans() | json_values, "max_tokens": small_tokens, "min_tokens": small_tokens,
              "seed": json_values, "user": st.text(max_size=300) | json_values, "temperature": json_values,
              "response_format": response_formats, "metadata": json_values,
              "stream_options": st.just({"include_usage": True}) | json_values})
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF) | st.just("\t"), max_size=300)
# Values the HTTP client can send at all (no NUL, no surrounding whitespace); raw control bytes are tested
# with a socket in test_slow_and_malformed_clients.py.
header_bytes = header_text.map(lambda text: text.strip(" \t").encode("latin-1"))
headers = st.fixed_dictionaries({}, optional={
    "x-request-id": header_bytes, "x-quantgate-key": header_bytes, "x-quantgate-category": header_bytes,
    "content-type": st.sampled_from(["application/json", "text/plain", "application/json; charset=utf-8",
                                     "multipart/form-data", "application/vnd.api+json"])})
raw_bodies = st.binary(max_size=300) | st.text(max_size=200).map(str.encode)


@pytest.fixture(scope="module")
def fuzz_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_gateway(tmp_path_factory.mktemp("fuzz"), max_request_bytes=4096) as url:
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
            admin.put("/admin/flags", json={"rollout_percent": 50, "shadow_percent": 50, "reason": "fuzz"})
        yield url


def _assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"].strip(), response.text[:500]


@pytest.mark.timeout(900)
@FUZZ
@given(body=chat_bodies | json_values, raw=st.none() | raw_bodies, extra=headers,
       path=st.sampled_from(["/v1/chat/completions", "/v1/completions"]))
def test_proxy_never_fails_with_a_5xx(fuzz_url: str, body: Any, raw: bytes | None, extra: dict[str, Any],
                                      path: str) -> None:
    if path == "/v1/completions" and isinstance(body, dict) and "messages" in body:
        body = {**body, "prompt": body.pop("messages")}
    with httpx.Client(base_url=fuzz_url, timeout=30) as client:
        content = raw if raw is not None else httpx.Request("POST", "/", json=body).content
        response = client.post(path, content=content, headers={"content-type": "application/json", **extra})
    _assert_clean(response)


def _stored(admin: httpx.Client) -> tuple[Any, Any]:
    # The flags carry their version and the audit log is append-only: the newest row shows any write.
    flags = admin.get("/admin/flags").json()
    flags.pop("source", None)
    return flags, admin.get("/admin/audit", params={"limit": 1}).json()


flag_updates = st.fixed_dictionaries({}, optional={
    "rollout_percent": st.floats(-10, 110) | json_values, "shadow_percent": st.integers(-5, 105) | json_values,
    "rollback": st.booleans() | json_values, "category_overrides": json_values
    | st.dictionaries(st.text(max_size=70), st.sampled_from(["baseline", "candidate", None, "other"]), max_size=3),
    "salt": json_values, "reason": st.text(max_size=600) | json_values, "actor": json_values,
    "expected_version": st.integers(-2, 2**64) | json_values, "override_gate": st.booleans() | json_values,
    "unknown": json_values})
admin_reads = st.tuples(st.sampled_from(["/admin/comparisons", "/admin/verdicts", "/admin/audit",
                                         "/admin/validations"]),
                        st.dictionaries(st.sampled_from(["since", "until", "limit", "offset", "category",
                                                         "flips_only", "flag"]), header_text, max_size=3))


@pytest.mark.timeout(900)
@FUZZ
@given(write=st.sampled_from(["PUT /admin/flags", "POST /admin/rollback"]), body=flag_updates | json_values,
       raw=st.none() | raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", None]),
       read=admin_reads, record_id=st.text(max_size=25))
def test_admin_never_fails_with_a_5xx_and_refusals_change_nothing(
        fuzz_url: str, write: str, body: Any, raw: bytes | None, content_type: str | None,
        read: tuple[str, dict[str, str]], record_id: str) -> None:
    method, path = write.split()
    with httpx.Client(base_url=fuzz_url, timeout=30, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        before = _stored(admin)
        content = raw if raw is not None else httpx.Request("POST", "/", json=body).content
        response = admin.request(method, path, content=content,
                                 headers={"content-type": content_type} if content_type else {})
        _assert_clean(response)
        if response.status_code >= 400:
            assert _stored(admin) == before
        _assert_clean(admin.get(read[0], params=read[1]))
        _assert_clean(admin.get("/admin/comparisons/" + quote(record_id, safe="")))
        _assert_clean(admin.get("/admin/validations/" + quote(record_id, safe="")))
