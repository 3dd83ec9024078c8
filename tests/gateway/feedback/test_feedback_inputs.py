"""Whatever a client posts to `/v1/feedback` is answered with a status and a reason, never a 5xx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.demo.stack import free_port
from gateway.feedback.token import FeedbackTokens
from gateway.settings import GatewaySettings

KEY = "f" * 40
TOKEN = FeedbackTokens([KEY.encode()], ttl_s=3600)

_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=40))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                            inner, max_size=4),
                     max_leaves=10)
_BODIES = _JSON | st.fixed_dictionaries(
    {"token": st.sampled_from(["", "x"]) | st.text(max_size=200) | st.builds(
        lambda variant, category: TOKEN.issue(variant, category, 50.0, 1),
        st.sampled_from(["baseline", "candidate"]), st.text(max_size=80))},
    optional={"signal": st.sampled_from(["thumbs_down", "csat", "Thumbs", ""]) | st.text(max_size=50),
              "value": _SCALARS, "idempotency_key": st.text(max_size=200) | st.none()})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A real server on 127.0.0.1 (one module-wide: hypothesis calls the test many times)."""
    directory: Path = tmp_path_factory.mktemp("feedback-inputs")
    policy = directory / "policy.yaml"
    policy.write_text("name: fuzz\ndefaults: {}\nfeedback:\n  thumbs_down: {max_increase_pp: 1}\n"
                      "  csat: {kind: score, min: 1, max: 5}\n")
    app = create_app(GatewaySettings(flag_store_url=f"sqlite:///{directory / 'flags.db'}", validation_gate=False,
                                     feedback={"keys": [KEY]}, policy_file=str(policy)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODIES)
def test_any_body_gets_a_status_with_its_reason_never_a_5xx(client: httpx.Client, body: object) -> None:
    response = client.post("/v1/feedback", json=body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.json()["error"]["message"]
    else:
        assert set(response.json()) == {"recorded", "duplicate"}
