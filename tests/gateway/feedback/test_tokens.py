"""Feedback tokens: every answer carries one naming the arm that answered; nobody can forge one, move it to the
other arm, or use it past its expiry; a rotated key keeps the tokens already out there valid."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from flags.bucketing import live_key_group
from gateway.feedback.settings import FeedbackSettings
from gateway.feedback.token import FeedbackTokens, InvalidToken
from tests.conftest import GatewayFactory, chat_body

OLD, NEW = "o" * 40, "n" * 40


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_says_which_arm_answered_in_which_category_and_stratum() -> None:
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600)
    claim = tokens.verify(tokens.issue("candidate", "json", 12.5, 7))
    assert (claim.variant, claim.category, claim.candidate_share, claim.key_group) == ("candidate", "json", 12.5, 7)


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_token_moved_to_the_other_arm_or_category_or_signed_elsewhere_is_refused() -> None:
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600)
    token = tokens.issue("baseline", "json", 50.0, 3)
    # Byte 9 is the variant, 24 onwards the category: flipping either breaks the signature.
    for index in (9, 24):
        with pytest.raises(InvalidToken, match="signature"):
            tokens.verify(_flip(token, index))
    with pytest.raises(InvalidToken, match="key"):
        tokens.verify(FeedbackTokens([("x" * 40).encode()], ttl_s=3600).issue("baseline", "json", 50.0, 3))


def test_two_answers_alike_in_everything_get_two_tokens() -> None:
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600, clock=_Clock())
    assert tokens.issue("candidate", "json", 5.0, 1) != tokens.issue("candidate", "json", 5.0, 1)


def test_a_token_past_its_expiry_is_refused() -> None:
    clock = _Clock()
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600, clock=clock)
    token = tokens.issue("candidate", "chat", 0.0, 0)
    clock.now += 3600
    assert tokens.verify(token).variant == "candidate"
    clock.now += 2
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_a_rotated_key_keeps_tokens_in_flight_valid_and_signs_new_ones() -> None:
    before = FeedbackTokens([OLD.encode()], ttl_s=3600)
    in_flight = before.issue("candidate", "chat", 10.0, 1)
    after = FeedbackTokens([NEW.encode(), OLD.encode()], ttl_s=3600)
    assert after.verify(in_flight).variant == "candidate"
    fresh = after.issue("baseline", "chat", 10.0, 1)
    assert FeedbackTokens([NEW.encode()], ttl_s=3600).verify(fresh).variant == "baseline"
    with pytest.raises(InvalidToken):
        FeedbackTokens([NEW.encode()], ttl_s=3600).verify(in_flight)  # the old key is gone: refused


@given(st.text(max_size=300))
def test_any_other_text_is_refused_as_a_token_never_with_another_error(text: str) -> None:
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600)
    with pytest.raises(InvalidToken):
        tokens.verify(text)


def test_an_empty_key_from_an_unset_variable_is_no_key_and_a_short_one_is_refused() -> None:
    assert FeedbackSettings(keys="").keys == [] and FeedbackSettings(keys=[" ", ""]).keys == []
    assert len(FeedbackSettings(keys=f"{NEW},{OLD}").secrets()) == 2
    with pytest.raises(ValidationError, match="at least 32"):
        FeedbackSettings(keys=["short"])


async def test_every_answer_carries_the_token_of_the_arm_that_answered(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(feedback={"keys": [NEW]})
    await gateway.set_flags(rollout_percent=100)
    tokens = FeedbackTokens([NEW.encode()], ttl_s=3600)
    async with gateway.client() as client:
        for stream in (False, True):
            response = await client.post("/v1/chat/completions", json=chat_body("hi", stream=stream),
                                         headers={"x-quantgate-key": "alice", "x-quantgate-category": "json"})
            claim = tokens.verify(response.headers["x-quantgate-feedback-token"])
            assert (claim.variant, claim.category, claim.candidate_share) == ("candidate", "json", 100.0)
            assert claim.key_group == live_key_group("alice")
            assert response.headers["x-quantgate-variant"] == "candidate"


async def test_no_key_no_token(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body("hi"))
    assert response.status_code == 200 and "x-quantgate-feedback-token" not in response.headers
