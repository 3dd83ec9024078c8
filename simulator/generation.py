"""Deterministic answers from (prompt, seed), and the quality faults a candidate applies to them."""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from simulator.profile import FaultRates

_WORDS = (
    "the model answers with a short and careful explanation of each step so that the reader can follow "
    "how values change over time in memory while the process keeps running on the server and returns "
    "results quickly because caching avoids repeated work across similar requests from many users who "
    "expect stable output format and precise numbers when they compare two systems side by side under "
    "load with streaming enabled for every response that contains code tables lists or plain prose "
    "written in several languages including english french german spanish and japanese text"
).split()

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


@dataclass
class SimRequest:
    """The parts of an OpenAI request that shape the simulated answer."""

    prompt: str
    seed: int | None
    max_tokens: int
    min_tokens: int
    category: str
    response_format: dict[str, Any] | None


@dataclass
class SimAnswer:
    """Token pieces of the answer, why it ended, and which faults were applied."""

    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    faults: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.pieces)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _schema_instance(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A value valid against the common JSON-schema subset that chat clients send."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _schema_instance(sub, rng, depth + 1) for name, sub in props.items()} if depth < 6 else {}
    if kind == "array":
        low = min(int(schema.get("minItems", 1)), 16)
        high = max(low, min(int(schema.get("maxItems", low + 2)), low + 3))
        return [_schema_instance(schema.get("items", {"type": "string"}), rng, depth + 1)
                for _ in range(rng.randint(low, high))]
    if kind == "integer":
        low, high = int(schema.get("minimum", 0)), int(schema.get("maximum", 100))
        return rng.randint(low, max(low, high))
    if kind == "number":
        low, high = float(schema.get("minimum", 0)), float(schema.get("maximum", 1))
        return round(rng.uniform(low, max(low, high)), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))


def _json_answer(request: SimRequest, rng: random.Random) -> str:
    fmt = request.response_format or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        try:
            return json.dumps(_schema_instance(schema, rng))
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError):
            # A schema outside the subset this generator understands: an empty object, as a weak model might.
            return "{}"
    value = {"answer": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))),
             "confidence": round(rng.random(), 3), "tags": [rng.choice(_WORDS) for _ in range(3)]}
    return json.dumps(value)


def _split_json(text: str) -> list[str]:
    return [text[i:i + 4] for i in range(0, len(text), 4)]


def _prose_pieces(rng: random.Random, count: int) -> list[str]:
    pieces = []
    for i in range(count):
        word = rng.choice(_WORDS)
        pieces.append(("\n\n" if i and i % 40 == 0 else " ") + word if i else word.capitalize())
    return pieces


def _natural_length(request: SimRequest, rng: random.Random) -> int:
    scale = 4.0 if request.category == "long" else 1.0
    return max(3, int(rng.lognormvariate(math.log(60 * scale), 0.5)))


def wants_json(request: SimRequest) -> bool:
    """True when the client asked for JSON output through response_format."""
    return (request.response_format or {}).get("type") in ("json_object", "json_schema")


def generate(request: SimRequest, faults: FaultRates | None, fault_salt: str = "") -> SimAnswer:
    """The baseline answer, then the candidate's faults on top when a fault profile applies."""
    rng = _rng(request.prompt, request.seed)
    prompt_tokens = max(1, len(request.prompt.split()))
    if wants_json(request):
        pieces = _split_json(_json_answer(request, rng))
        natural = len(pieces)
    else:
        # min_tokens (a vLLM sampling parameter) holds off the end of the answer, as it does there.
        natural = max(_natural_length(request, rng), request.min_tokens)
        pieces = _prose_pieces(rng, natural * 2 + 64)
    answer = SimAnswer(pieces=pieces[:natural], finish_reason="stop", prompt_tokens=prompt_tokens)
    if faults is not None:
        _apply_faults(answer, request, faults, _rng(request.prompt, request.seed, "faults", fault_salt), pieces)
    _fit_length(answer, request)
    return answer


def _fit_length(answer: SimAnswer, request: SimRequest) -> None:
    if len(answer.pieces) > request.max_tokens:
        answer.pieces = answer.pieces[:request.max_tokens]
        answer.finish_reason = "length"


def _apply_faults(answer: SimAnswer, request: SimRequest, rates: FaultRates, rng: random.Random,
                  spare: list[str]) -> None:
    rolls = {name: rng.random() for name in ("refusal", "broken_json", "longer", "truncated", "repetition")}
    if rolls["refusal"] < rates.refusal:
        answer.pieces = [w if i == 0 else " " + w for i, w in enumerate(REFUSAL_TEXT.split())]
        answer.faults.append("refusal")
        return
    if wants_json(request):
        if rolls["broken_json"] < rates.broken_json:
            cut = max(1, len(answer.pieces) - rng.randint(1, 3))
            answer.pieces = answer.pieces[:cut]
            answer.faults.append("broken_json")
        return
    if rolls["longer"] < rates.longer:
        answer.pieces = spare[:int(len(answer.pieces) * 1.6) + 1]
        answer.faults.append("longer")
    if rolls["truncated"] < rates.truncated:
        answer.pieces = answer.pieces[:max(1, int(len(answer.pieces) * rng.uniform(0.3, 0.7)))]
        answer.finish_reason = "length"
        answer.faults.append("truncated")
    elif rolls["repetition"] < rates.repetition:
        start = max(1, len(answer.pieces) // 3)
        loop = answer.pieces[start:start + 4] or [" again"]
        answer.pieces = answer.pieces[:start] + loop * max(1, (request.max_tokens - start) // len(loop) + 1)
        answer.finish_reason = "length"
        answer.faults.append("repetition")
    if rates.drift > 0:
        n = len(answer.pieces)
        answer.pieces = [(" " + rng.choice(_WORDS)) if i and rng.random() < rates.drift * i / n else piece
                         for i, piece in enumerate(answer.pieces)]
        answer.faults.append("drift")
