"""Every primary answer goes through the detectors, in the background, after the client has it."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from flags.bucketing import live_key_group
from monitors.quality.answer import CapturedAnswer, captured, prompt_text
from monitors.quality.detectors.answer import AnswerJudge, AnswerJudgement
from monitors.quality.detectors.language import identify
from monitors.quality.metrics import QualityMetrics

log = logging.getLogger("quantgate.shadow")
_BATCH_LIMIT = 256


# Per-request records here and in monitors are plain slotted dataclasses, not frozen ones: a frozen
# dataclass's __init__ costs ~5x (one object.__setattr__ per field), and several are built per answer.
@dataclass(slots=True)
class PrimaryAnswer:
    """What the proxy captured of the answer it relayed (raw bytes, parsed later, off the request path)."""

    variant: str
    category: str
    raw: bytes
    streamed: bool
    ttft_s: float | None
    total_s: float
    usage_tokens: int | None
    complete: bool
    response_format: dict[str, Any] | None
    candidate_share: float | None = None  # the routing stratum (flags.bucketing.RolloutDecision)
    # The user it answered (hashed into a key group off the request path, for the live verdicts' design effect).
    routing_key: str | None = None
    # The parsed request (already in memory): its prompt's language is what the answer is checked against.
    payload: dict[str, Any] | None = None

    def parse(self) -> CapturedAnswer:
        """Reassemble the answer text."""
        return captured(self.variant, self.raw, self.streamed, self.ttft_s, self.total_s, self.complete,
                        self.usage_tokens)


# Only the end of a long prompt is read for its language: the question is usually last.
_PROMPT_TAIL_CHARS = 2000


def prompt_language(judge: AnswerJudge, payload: dict[str, Any] | None) -> str | None:
    """The language the prompt is written in, when it can be told with confidence (the answer should match)."""
    if not payload:
        return None
    text = prompt_text(payload)[-_PROMPT_TAIL_CHARS:]
    return identify(text.replace("user:", " ").replace("system:", " "), tuple(judge.settings.languages))


def judge_answer(judge: AnswerJudge, answer: CapturedAnswer, response_format: dict[str, Any] | None,
                 category: str, expected_language: str | None = None) -> AnswerJudgement:
    """Run the detectors on a captured answer."""
    return judge.judge(answer.text, answer.finish_reason, answer.output_tokens, response_format, category,
                       expected_language)


class AnswerJudging:
    """Bounded background backlog of primary answers; a full backlog drops (counted), never blocks.

    Answers are judged in batches on a short timer rather than one queue wake-up each: at
    a thousand answers a second the wake-ups alone cost more than some of the detectors.
    """

    def __init__(self, judge: AnswerJudge, metrics: QualityMetrics, queue_size: int,
                 batch_delay_s: float = 0.02) -> None:
        self.judge = judge
        self.metrics = metrics
        self._limit = queue_size
        self._delay = batch_delay_s
        self._backlog: deque[PrimaryAnswer] = deque()
        self._timer: asyncio.Handle | None = None
        self._running = False
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, answer: PrimaryAnswer) -> None:
        """Queue a finished primary answer."""
        if not self._running:
            return
        if len(self._backlog) >= self._limit:
            self.metrics.shadow_dropped("judging_queue_full")
            return
        self._backlog.append(answer)
        if self._timer is None:
            self._idle.clear()
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._judge_backlog)

    def _judge_one(self, primary: PrimaryAnswer) -> None:
        try:
            judgement = judge_answer(self.judge, primary.parse(), primary.response_format, primary.category,
                                     prompt_language(self.judge, primary.payload))
            group = None if primary.routing_key is None else live_key_group(primary.routing_key)
            self.metrics.observe_answer(primary.variant, primary.category, "primary", judgement,
                                        primary.candidate_share, group)
        except Exception:  # noqa: BLE001 - one odd answer must not stop judging
            log.exception("judging a primary answer failed")

    def _judge_backlog(self) -> None:
        self._timer = None
        backlog = self._backlog
        # A bounded batch per turn of the loop keeps requests moving while a large backlog is worked off.
        for _ in range(min(len(backlog), _BATCH_LIMIT)):
            self._judge_one(backlog.popleft())
        if backlog and self._running:
            self._timer = asyncio.get_running_loop().call_soon(self._judge_backlog)
        else:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every queued answer was judged (tests, shutdown)."""
        await self._idle.wait()

    def start(self) -> None:
        """Start accepting answers."""
        self._running = True

    async def stop(self) -> None:
        """Judge what is left, then stop accepting answers."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._backlog:
            self._judge_one(self._backlog.popleft())
        self._running = False
        self._idle.set()
