"""The token-level early warning: its figures equal a direct computation from the logprobs the simulator served,
and a candidate whose distribution drifts in one category shows it there and nowhere else."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import httpx
import numpy as np
import pytest

from evals.early_warning import early_warning
from evals.scoring import ArmAnswer
from evals.suite import builtin_suite
from simulator.profile import FaultRates
from tests.conftest import Simulator, backend

K = 5


def _direct(base: dict, cand: dict, tokens: list[int], start: int) -> list[tuple[float, float, float, bool]]:
    """Per answer token: both NLLs, the top-k + rest KL, and top-1 agreement, written out longhand."""
    out = []
    for i in range(start, len(tokens)):
        b, c, actual = base["prompt_logprobs"][i], cand["prompt_logprobs"][i], str(tokens[i])
        p = {t: math.exp(v["logprob"]) for t, v in b.items() if v["rank"] <= K}
        q_known = {t: math.exp(v["logprob"]) for t, v in c.items() if v["rank"] <= K}
        q = {t: q_known[t] if t in q_known else min(q_known.values()) for t in p}
        kl = sum(p[t] * math.log(p[t] / q[t]) for t in p)
        kl += (1 - sum(p.values())) * math.log((1 - sum(p.values())) / (1 - sum(q.values())))
        b_top = next(t for t, v in b.items() if v["rank"] == 1)
        c_top = next(t for t, v in c.items() if v["rank"] == 1)
        out.append((-b[actual]["logprob"], -c[actual]["logprob"], kl, b_top == c_top))
    return out


async def test_figures_equal_a_direct_computation_and_drift_shows_where_it_is(
        make_simulator: Callable[..., Awaitable[Simulator]]) -> None:
    base_sim = await make_simulator("base")
    cand_sim = await make_simulator("cand", faults={"math": FaultRates(logit_noise=1.0)})
    backends = {"baseline": backend("baseline", base_sim.url, "base"),
                "candidate": backend("candidate", cand_sim.url, "cand")}
    items = [i for i in builtin_suite().reduced(4).items if i.category in ("math", "chat")]
    answers = {i.id: ArmAnswer(i.id, f"the answer to {i.id} is a short careful explanation of each step", "stop",
                               12, 0.0) for i in items}
    warning = await early_warning(backends, items, answers, k=K)
    figures = {c["category"]: c for c in warning["categories"]}

    rows: dict[str, list[tuple[float, float, float, bool]]] = {"math": [], "chat": []}
    async with httpx.AsyncClient() as client:
        for item in items:
            messages = [m.model_dump() for m in item.messages]
            prefix = (await client.post(f"{base_sim.url}/tokenize", json={"messages": messages})).json()["tokens"]
            full = {"messages": [*messages, {"role": "assistant", "content": answers[item.id].text}],
                    "max_tokens": 1, "prompt_logprobs": K, "return_token_ids": True,
                    "add_generation_prompt": False, "continue_final_message": True}
            served = [(await client.post(f"{sim.url}/v1/chat/completions", json={**full, "model": name},
                                         headers={"x-quantgate-category": item.category})).json()
                      for sim, name in ((base_sim, "base"), (cand_sim, "cand"))]
            rows[item.category] += _direct(served[0], served[1], served[0]["prompt_token_ids"], len(prefix))
    for category, direct in rows.items():
        table = np.array(direct, dtype=float)
        assert figures[category]["tokens"] == len(direct)
        assert figures[category]["perplexity_ratio"]["value"] == pytest.approx(
            math.exp(table[:, 1].mean() - table[:, 0].mean()))
        assert figures[category]["kl_mean"]["value"] == pytest.approx(table[:, 2].mean())
        assert figures[category]["kl_p99"]["value"] == pytest.approx(np.quantile(table[:, 2], 0.99))
        assert figures[category]["top1_agreement"]["value"] == pytest.approx(table[:, 3].mean())
    # Untouched category: the same distributions. Drifting one: a KL above zero with an interval that says so.
    assert figures["chat"]["kl_mean"]["value"] == pytest.approx(0, abs=1e-12)
    assert figures["chat"]["top1_agreement"]["value"] == 1.0
    assert figures["math"]["kl_mean"]["low"] > 0.05 and figures["math"]["top1_agreement"]["value"] < 1.0
