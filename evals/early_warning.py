"""Token-level early warning: the baseline's answers scored by both arms (teacher forcing with vLLM's
`prompt_logprobs`), per category, beside the task metrics. A smoke detector, not a verdict.

The figures of llama.cpp's `perplexity --kl-divergence`, over the baseline's answer tokens:
- perplexity ratio: exp(mean candidate NLL - mean baseline NLL) of the actual tokens;
- KL divergence of the candidate's next-token distribution from the baseline's, mean and 99th percentile over
  tokens. vLLM returns the top k of each (k stated), so this is the top-k approximation: both distributions
  coarsened to the baseline's top-k tokens plus one bucket for the rest of the vocabulary (by the data-processing
  inequality no more than the full KL where every probability is known); a baseline top-k token missing from the
  candidate's top k is given the candidate's k-th probability, the most it can have;
- top-1 agreement: how often both put the same token first.
Intervals: percentile bootstrap over the category's items (a cluster bootstrap: an answer's tokens are not
independent of each other), `scipy.stats.bootstrap`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
from scipy import stats

from evals.scoring import ArmAnswer
from evals.suite import SuiteItem
from wire.backends import BackendSettings

TOP_K = 20
RESAMPLES = 2000
METHOD = ("baseline answers scored by both arms with prompt_logprobs (teacher forcing, top-{k}); KL over the "
          "baseline's top-k tokens plus one bucket for the rest (top-k approximation); intervals: percentile "
          "bootstrap over items at 95%. An early warning beside the task metrics: it gates only where the policy "
          "sets `early_warning.gates` with a `max_kl_mean`.")


class ScoringError(RuntimeError):
    """A backend could not score an answer (no prompt_logprobs, or another tokenisation than the baseline's)."""


@dataclass(frozen=True)
class ItemTokens:
    """Per answer token of one item: NLL under each arm, the KL approximation, and whether the top tokens agree."""

    category: str
    nll_baseline: np.ndarray
    nll_candidate: np.ndarray
    kl: np.ndarray
    agree: np.ndarray


def _probs(entry: dict[str, Any], k: int) -> tuple[dict[int, float], int]:
    """An entry's top-k probabilities by token id, and its top token."""
    top = {int(token): math.exp(v["logprob"]) for token, v in entry.items() if v["rank"] <= k}
    first = min(entry.items(), key=lambda item: item[1]["rank"])[0]
    return top, int(first)


def token_kl(base: dict[str, Any], cand: dict[str, Any], k: int) -> float:
    """KL(baseline || candidate) over the baseline's top-k tokens plus one rest-of-vocabulary bucket."""
    p, _ = _probs(base, k)
    q_top, _ = _probs(cand, k)
    floor = min(q_top.values())
    q = {token: q_top.get(token, floor) for token in p}
    p_rest, q_rest = max(1.0 - sum(p.values()), 1e-12), max(1.0 - sum(q.values()), 1e-12)
    return sum(pv * math.log(pv / q[t]) for t, pv in p.items() if pv > 0) + p_rest * math.log(p_rest / q_rest)


def item_tokens(category: str, tokens: list[int], start: int, base: list[Any], cand: list[Any],
                k: int) -> ItemTokens:
    """The answer's positions (from `start`) under both arms."""
    rows = []
    for position in range(max(start, 1), len(tokens)):
        actual = str(tokens[position])
        b, c = base[position], cand[position]
        _, b_first = _probs(b, k)
        _, c_first = _probs(c, k)
        rows.append((-b[actual]["logprob"], -c[actual]["logprob"], token_kl(b, c, k), float(b_first == c_first)))
    table = np.array(rows, dtype=float).reshape(-1, 4)
    return ItemTokens(category, table[:, 0], table[:, 1], table[:, 2], table[:, 3])


async def _post(session: aiohttp.ClientSession, backend: BackendSettings, path: str, body: dict[str, Any],
                category: str) -> dict[str, Any]:
    # The category header as the suite runner sends it (vLLM ignores it; the simulator's profiles key on it).
    headers = {"x-quantgate-category": category}
    key = backend.api_key.get_secret_value() if backend.api_key is not None else ""
    if key:
        headers["authorization"] = f"Bearer {key}"
    async with session.post(f"{backend.base_url}{path}", json=body, headers=headers) as response:
        data = await response.json(content_type=None)
        if response.status != 200 or not isinstance(data, dict):
            raise ScoringError(f"{backend.name} {path}: HTTP {response.status}: {str(data)[:300]}")
        return data


async def _score(session: aiohttp.ClientSession, backend: BackendSettings, messages: list[dict[str, Any]],
                 k: int, category: str) -> tuple[list[int], list[Any]]:
    data = await _post(session, backend, "/v1/chat/completions", {
        "model": backend.served_model_name, "messages": messages, "max_tokens": 1, "temperature": 0.0,
        "prompt_logprobs": k, "return_token_ids": True, "add_generation_prompt": False,
        "continue_final_message": True}, category)
    if not data.get("prompt_logprobs") or not data.get("prompt_token_ids"):
        raise ScoringError(f"{backend.name} did not return prompt_logprobs and prompt_token_ids (vLLM serves them)")
    return data["prompt_token_ids"], data["prompt_logprobs"]


async def score_item(session: aiohttp.ClientSession, backends: dict[str, BackendSettings], item: SuiteItem,
                     answer: str, k: int = TOP_K) -> ItemTokens | None:
    """One item's answer tokens scored by both arms (None: an empty answer has no tokens to score)."""
    if not answer.strip():
        return None
    prompt = [m.model_dump() for m in item.messages]
    prefix = await _post(session, backends["baseline"], "/tokenize", {
        "model": backends["baseline"].served_model_name, "messages": prompt, "add_generation_prompt": True},
        item.category)
    full = [*prompt, {"role": "assistant", "content": answer}]
    (b_tokens, b_lp), (c_tokens, c_lp) = await asyncio.gather(
        _score(session, backends["baseline"], full, k, item.category),
        _score(session, backends["candidate"], full, k, item.category))
    if b_tokens != c_tokens:
        raise ScoringError(f"item {item.id}: the arms tokenise the answer differently; token-level figures need "
                           "the same tokenizer")
    return item_tokens(item.category, b_tokens, len(prefix["tokens"]), b_lp, c_lp, k)


def _interval(items: list[ItemTokens], statistic: Any, seed: int) -> tuple[float, float]:
    if len(items) < 2:
        return float("nan"), float("nan")
    result = stats.bootstrap((np.arange(len(items), dtype=float),), lambda idx: statistic([items[int(i)]
                             for i in idx]), vectorized=False, method="percentile", n_resamples=RESAMPLES,
                             rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


FIGURES = {
    "perplexity_ratio": lambda items: math.exp(np.concatenate([i.nll_candidate for i in items]).mean()
                                               - np.concatenate([i.nll_baseline for i in items]).mean()),
    "kl_mean": lambda items: float(np.concatenate([i.kl for i in items]).mean()),
    "kl_p99": lambda items: float(np.quantile(np.concatenate([i.kl for i in items]), 0.99)),
    "top1_agreement": lambda items: float(np.concatenate([i.agree for i in items]).mean()),
}


def category_figures(items: list[ItemTokens], seed: int = 0) -> dict[str, Any]:
    """One category's four figures, each with its bootstrap interval."""
    out: dict[str, Any] = {"category": items[0].category, "items": len(items),
                           "tokens": int(sum(len(i.kl) for i in items))}
    for index, (name, statistic) in enumerate(FIGURES.items()):
        low, high = _interval(items, statistic, seed + index)
        out[name] = {"value": statistic(items), "low": low, "high": high}
    return out


async def early_warning(backends: dict[str, BackendSettings], items: list[SuiteItem],
                        answers: dict[str, ArmAnswer], concurrency: int = 4, k: int = TOP_K) -> dict[str, Any]:
    """The baseline's answers scored by both arms, summarised per category."""
    semaphore = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def one(item: SuiteItem) -> ItemTokens | None:
            async with semaphore:
                return await score_item(session, backends, item, answers[item.id].text, k)

        scored = await asyncio.gather(*(one(item) for item in items if item.id in answers))
    by_category: dict[str, list[ItemTokens]] = {}
    for tokens in scored:
        if tokens is not None and len(tokens.kl):
            by_category.setdefault(tokens.category, []).append(tokens)
    return {"top_k": k, "method": METHOD.format(k=k),
            "categories": [category_figures(group) for _, group in sorted(by_category.items())]}
