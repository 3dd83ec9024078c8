"""Feedback tokens: which arm answered, in which category and routing stratum, when, signed so nobody can move a
signal to the other arm.

Nothing per request is stored to make attribution work: the token carries what the verdicts need and a keyed MAC
over it (HMAC-SHA-256, truncated to 128 bits, RFC 2104 / NIST SP 800-107 §5.3.4). The key id (the first four bytes
of the key's SHA-256) picks the key at verification, so a rotation keeps tokens issued under the previous key valid
while both keys are configured. Layout before base64url (no padding):

    key id (4) | version (1) | issued at, unix seconds (4) | variant (1) | stratum, hundredths of a percent (2) |
    key group (1) | answer nonce (8) | category length (1) | category (UTF-8, at most 64 bytes) | MAC (16)

The nonce makes every answer's token its own: two answers alike in everything else, in the same second, are two
answers, and each may get its signal once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass

VERSION = 1
MAC_BYTES = 16
MAX_CATEGORY_BYTES = 64
_HEAD = struct.Struct(">4sBIBHB8sB")
# The longest token there can be, as text: longer input is refused before any decoding.
MAX_TOKEN_CHARS = (_HEAD.size + MAX_CATEGORY_BYTES + MAC_BYTES) * 4 // 3 + 4
VARIANTS = ("baseline", "candidate")


class InvalidToken(ValueError):
    """A token that was not issued by this deployment, was altered, or has expired."""


@dataclass(frozen=True, slots=True)
class FeedbackClaim:
    """What a valid token says about the answer it came with."""

    variant: str
    category: str
    candidate_share: float  # the routing stratum (percent)
    key_group: int
    issued_at: int


def key_id(key: bytes) -> bytes:
    """The four bytes naming a key inside its tokens."""
    return hashlib.sha256(key).digest()[:4]


class FeedbackTokens:
    """Issues tokens under the first key; verifies under any configured key (rotation)."""

    def __init__(self, keys: list[bytes], ttl_s: float, clock: object = time.time) -> None:
        if not keys:
            raise ValueError("feedback tokens need at least one key")
        self._signing, self._signing_id = keys[0], key_id(keys[0])
        self._keys = {key_id(key): key for key in keys}
        self._ttl_s = ttl_s
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())  # type: ignore[operator]

    def issue(self, variant: str, category: str, candidate_share: float, key_group: int) -> str:
        """The token for one answer (about 2 µs; the header value)."""
        # Cut at a character boundary: the category is bounded already (the gateway's labels), this only guards.
        name = category.encode("utf-8")[:MAX_CATEGORY_BYTES].decode("utf-8", "ignore").encode("utf-8")
        body = _HEAD.pack(self._signing_id, VERSION, self._now() & 0xFFFFFFFF, VARIANTS.index(variant),
                          max(0, min(10_000, round(candidate_share * 100))), key_group & 0xFF, os.urandom(8),
                          len(name)) + name
        mac = hmac.new(self._signing, body, hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode("ascii")

    def verify(self, token: str) -> FeedbackClaim:
        """The claim of a token this deployment issued and that has not expired; InvalidToken otherwise."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("not a feedback token (wrong length)")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("not a feedback token (not base64url)") from exc
        if len(raw) < _HEAD.size + MAC_BYTES:
            raise InvalidToken("not a feedback token (too short)")
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        kid, version, issued, variant, stratum, group, _nonce, length = _HEAD.unpack_from(body)
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("signed with a key this gateway does not have (rotated out, or forged)")
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:MAC_BYTES]):
            raise InvalidToken("signature does not match (altered or forged)")
        if version != VERSION or variant >= len(VARIANTS) or len(body) != _HEAD.size + length:
            raise InvalidToken("unsupported token layout")
        age = self._now() - issued
        if age > self._ttl_s:
            raise InvalidToken(f"expired {age - self._ttl_s:.0f} s ago (tokens are valid for {self._ttl_s:.0f} s)")
        if age < -300:
            raise InvalidToken("issued in the future")
        category = body[_HEAD.size:].decode("utf-8", errors="strict")
        return FeedbackClaim(VARIANTS[variant], category, stratum / 100, group, issued)
