"""Teacher-forced scoring as vLLM serves it: `/tokenize` and `prompt_logprobs` with `return_token_ids`.

The simulator's chat template: each message is a role token (`<role>:`) followed by its words; the generation
prompt is `assistant:`; `continue_final_message` leaves the last assistant message open. A token's id is a hash of
its text. At each position the model's top-k is drawn deterministically from the context (previous and current
token and position): the actual token usually on top, k-1 other tokens below it, and the mass outside the top-k
left to the rest of the vocabulary. A candidate whose fault profile has `logit_noise` adds that much Gaussian noise
to every logit (its own seed), so its distribution drifts from the baseline's by a known amount.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any

VOCAB = 50_000
# The logit of the vocabulary outside a position's top-k, as one bucket.
REST_LOGIT = 0.5


def token_id(text: str) -> int:
    """A token's id: a stable hash of its text."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % VOCAB


def chat_tokens(messages: list[dict[str, Any]], add_generation_prompt: bool) -> list[int]:
    """The template's token ids for a conversation."""
    words: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        words += [f"<{message.get('role', 'user')}>:", *str(content or "").split()]
    if add_generation_prompt:
        words.append("<assistant>:")
    return [token_id(word) for word in words]


def _logits(previous: int, actual: int, position: int, k: int) -> dict[int, float]:
    """The baseline's top-k logits at a position: the actual token and k-1 others."""
    rng = random.Random(f"{previous}:{actual}:{position}")
    logits = {actual: rng.gauss(3.0, 1.0)}
    while len(logits) < k:
        logits.setdefault(rng.randrange(VOCAB), rng.gauss(1.0, 1.0))
    return logits


def position_logprobs(previous: int, actual: int, position: int, k: int, noise: float,
                      salt: str) -> dict[int, dict[str, Any]]:
    """vLLM's per-position entry: the top-k tokens and the actual one, each with its logprob and rank."""
    logits = _logits(previous, actual, position, max(k, 1))
    if noise > 0:
        rng = random.Random(f"noise:{salt}:{previous}:{actual}:{position}")
        logits = {token: value + rng.gauss(0.0, noise) for token, value in logits.items()}
    norm = math.log(sum(math.exp(v) for v in logits.values()) + math.exp(REST_LOGIT) * 1.0)
    ranked = sorted(logits.items(), key=lambda item: -item[1])
    entry = {token: {"logprob": value - norm, "rank": rank, "decoded_token": f"t{token}"}
             for rank, (token, value) in enumerate(ranked, start=1) if rank <= k or token == actual}
    return {tok: entry[tok] for tok in entry}


def prompt_logprobs(tokens: list[int], k: int, noise: float, salt: str) -> list[dict[str, Any] | None]:
    """The `prompt_logprobs` of a prompt: None for its first token (nothing precedes it), then one entry per
    token, keyed by token id as text (as vLLM's JSON has it)."""
    out: list[dict[str, Any] | None] = [None]
    for position in range(1, len(tokens)):
        entry = position_logprobs(tokens[position - 1], tokens[position], position, k, noise, salt)
        out.append({str(token): value for token, value in entry.items()})
    return out
