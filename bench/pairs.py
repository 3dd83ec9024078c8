"""Shadow pairs drawn from the simulator's own generator and judged by the real detectors and comparison.

No HTTP: the simulator's answer generation and fault injection run in-process so that hundreds of
analyses of thousands of pairs fit in minutes. Each arm draws its faults with its own salt, like two
noisy replicas, so an A/A pair still disagrees now and then.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from monitors.analysis.samples import PairSample
from monitors.quality.answer import CapturedAnswer
from monitors.quality.detectors.answer import AnswerJudge, DetectorSettings
from shadow.compare import ShadowComparison, compare
from simulator.generation import SimRequest, generate
from simulator.profile import FaultRates

# Traffic mix of the shared prompt set's categories; benign-sensitive carries 10%.
TRAFFIC = {"chat": 0.25, "code": 0.15, "json": 0.15, "math": 0.15, "multilingual": 0.10, "benign-sensitive": 0.10,
           "long": 0.10}
BASE_FAULTS = FaultRates(refusal=0.02, broken_json=0.01)


@dataclass
class PairSource:
    """Generates paired answers; `candidate_faults` overrides the candidate's profile per category."""

    candidate_faults: dict[str, FaultRates]
    seed: int
    judge: AnswerJudge = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.judge = self.judge or AnswerJudge(DetectorSettings())
        self.counter = 0
        self._names, self._weights = list(TRAFFIC), list(TRAFFIC.values())

    def _answer(self, request: SimRequest, faults: FaultRates, salt: str) -> CapturedAnswer:
        answer = generate(request, faults, salt)
        return CapturedAnswer(salt, answer.text, answer.finish_reason, len(answer.pieces), None, 0.0, True)

    def comparison(self) -> ShadowComparison:
        """One judged and compared pair."""
        category = self.rng.choices(self._names, self._weights)[0]
        self.counter += 1
        fmt = {"type": "json_object"} if category == "json" else None
        request = SimRequest(f"{category} prompt {self.seed}-{self.counter}", self.counter, 400, 0, category, fmt)
        base = self._answer(request, BASE_FAULTS, f"baseline-{self.seed}")
        cand = self._answer(request, self.candidate_faults.get(category, BASE_FAULTS), f"candidate-{self.seed}")
        jb = self.judge.judge(base.text, base.finish_reason, base.output_tokens, fmt, category)
        jc = self.judge.judge(cand.text, cand.finish_reason, cand.output_tokens, fmt, category)
        return compare(f"sim-{self.counter}", category, "baseline", base, cand, jb, jc)

    def sample(self) -> PairSample:
        """One pair in the form the statistics use."""
        c = self.comparison()
        return PairSample(c.category, c.baseline_judgement.as_dict(), c.candidate_judgement.as_dict(),
                          c.figures.length_ratio, c.figures.similarity, None, None)

    def samples(self, n: int) -> list[PairSample]:
        """`n` pairs."""
        return [self.sample() for _ in range(n)]


def injected(category: str = "benign-sensitive", rise_pp: float = 3.0) -> dict[str, FaultRates]:
    """Candidate profile: the baseline's faults everywhere, refusals up by `rise_pp` in one category."""
    return {category: BASE_FAULTS.model_copy(update={"refusal": BASE_FAULTS.refusal + rise_pp / 100})}
