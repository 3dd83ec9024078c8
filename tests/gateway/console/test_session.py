"""Console sessions: a signed cookie every worker can read, refused when tampered with, expired or foreign."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.console.session import MAX_AGE_S, SessionSigner

SIGNER = SessionSigner(b"an-admin-token-of-24-chars")


def test_a_cookie_reads_back_in_another_worker_with_the_same_token_and_not_with_another() -> None:
    cookie, session = SIGNER.issue("alice", now=1000.0)
    assert SessionSigner(b"an-admin-token-of-24-chars").read(cookie, now=1001.0) == session
    assert SessionSigner(b"another-token-xxxxxxxxxxx").read(cookie, now=1001.0) is None
    assert SIGNER.read(cookie, now=1000.0 + MAX_AGE_S + 1) is None  # expired
    assert session.actor == "console:alice"


def test_csrf_tokens_belong_to_one_session() -> None:
    _, first = SIGNER.issue("alice")
    _, second = SIGNER.issue("alice")
    assert SIGNER.csrf_ok(first, SIGNER.csrf_token(first))
    assert not SIGNER.csrf_ok(first, SIGNER.csrf_token(second)) and not SIGNER.csrf_ok(first, None)


@given(st.text(max_size=300))
def test_no_forged_or_garbled_cookie_is_accepted(garbage: str) -> None:
    assert SIGNER.read(garbage) is None


@given(st.integers(min_value=0, max_value=200))
def test_one_changed_character_invalidates_the_cookie(position: int) -> None:
    cookie, _ = SIGNER.issue("alice")
    i = position % len(cookie)
    flipped = cookie[:i] + ("A" if cookie[i] != "A" else "B") + cookie[i + 1:]
    assert SIGNER.read(flipped) is None


@given(st.text(max_size=60))
def test_any_csrf_field_is_answered_not_crashed_on(given_token: str) -> None:
    _, session = SIGNER.issue("alice")
    assert SIGNER.csrf_ok(session, given_token) is (given_token == SIGNER.csrf_token(session))
